"""Generate the time-series examples' data: configs/data/sales.csv, stores.csv, activity.csv and
moving_dot.npz. Every file is seeded and small (under 300 KB).

- sales.csv: `date,sales` — three years of daily sales (2022-01-01 to 2024-12-31, 1,096 days) with a
  rising trend, a weekly pattern (busy weekends, quiet Mondays), a yearly wave (a summer high, a
  December peak) and noise that carries over a little from one day to the next. For
  series_lstm.yaml and series_conv1d.yaml.
- stores.csv: `date,store,sales` — the same kind of series for three stores (north, south, centre)
  in one table, one after the other, each with its own level, trend and weekly shape. For
  series_multi.yaml.
- activity.csv: `t,ax,ay,az,activity` — ten minutes of a 3-axis accelerometer sampled at 10 Hz while
  someone sits, walks, runs and climbs stairs; the activity changes in blocks of 6–15 seconds, and each activity
  has its own rhythm (a step frequency and strength) and posture (where gravity points). For
  activity_windows.yaml.
- moving_dot.npz: `x` (400 clips × 6 frames × 12 × 12 × 1, uint8) and `y` (the direction a bright dot
  moves in: 0 right, 1 left, 2 down, 3 up) on a noisy background. For video_convlstm.yaml.

Run:

    python configs/data/make_series.py      # rewrites the four files (seeded)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FOLDER = Path(__file__).resolve().parent
START, DAYS = "2022-01-01", 1096
WEEKLY = np.array([-14.0, -6.0, -3.0, 0.0, 6.0, 18.0, 12.0])   # Monday .. Sunday, added to the level


def daily_sales(rng: np.random.Generator, days: int, level: float, trend: float, weekly: np.ndarray,
                yearly: float, noise: float) -> pd.DataFrame:
    """One store's daily sales: level + trend + weekly pattern + yearly wave + AR(1) noise, rounded to
    0.1 and never below 0."""
    dates = pd.date_range(START, periods=days, freq="D")
    t = np.arange(days)
    day_of_year = dates.day_of_year.to_numpy()
    wave = yearly * (0.6 * np.sin(2 * np.pi * (day_of_year - 100) / 365.25)          # summer high
                     + 0.8 * np.exp(-((day_of_year - 350) / 12.0) ** 2))             # the December peak
    shocks = rng.normal(0.0, noise, size=days)
    carried = np.zeros(days)
    for i in range(days):
        carried[i] = shocks[i] + (0.3 * carried[i - 1] if i else 0.0)
    sales = level + trend * t + weekly[dates.day_of_week.to_numpy()] + wave + carried
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "sales": np.maximum(sales, 0.0).round(1)})


def sales(seed: int = 7) -> pd.DataFrame:
    return daily_sales(np.random.default_rng(seed), DAYS, level=120.0, trend=0.015, weekly=WEEKLY, yearly=20.0,
                       noise=5.0)


def stores(seed: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for name, level, trend, shape in (("north", 80.0, 0.01, WEEKLY), ("south", 150.0, 0.02, 1.5 * WEEKLY),
                                      ("centre", 110.0, -0.005, np.roll(WEEKLY, 1))):
        frame = daily_sales(rng, DAYS, level=level, trend=trend, weekly=shape, yearly=15.0, noise=5.0)
        frame.insert(1, "store", name)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


ACTIVITIES = {  # step frequency (Hz), swing strength (g), gravity direction (x, y, z), jitter (g)
    "sitting": (0.0, 0.00, (0.1, 0.2, 0.97), 0.02),
    "walking": (1.8, 0.35, (0.0, 0.95, 0.15), 0.06),
    "running": (2.8, 0.90, (0.1, 0.9, 0.3), 0.10),
    "stairs": (1.4, 0.45, (0.3, 0.85, 0.35), 0.08),
}
HZ = 10


def activity(seed: int = 9, seconds: int = 600) -> pd.DataFrame:
    """An accelerometer trace in blocks of one activity each (6–15 s), HZ samples a second."""
    rng = np.random.default_rng(seed)
    names = list(ACTIVITIES)
    labels: list[str] = []
    previous = None
    while len(labels) < seconds * HZ:
        name = rng.choice([n for n in names if n != previous])
        labels += [name] * int(rng.integers(6, 16) * HZ)
        previous = name
    labels = labels[:seconds * HZ]
    columns = np.zeros((len(labels), 3))
    phase = 0.0
    for i, name in enumerate(labels):
        freq, swing, gravity, jitter = ACTIVITIES[name]
        phase += 2 * np.pi * freq / HZ
        beat = swing * np.array([0.4 * np.sin(phase), np.sin(phase) + 0.3 * np.sin(2 * phase), 0.5 * np.cos(phase)])
        columns[i] = np.array(gravity) + beat + rng.normal(0.0, jitter, size=3)
    frame = pd.DataFrame({"t": np.arange(len(labels)), "ax": columns[:, 0].round(3), "ay": columns[:, 1].round(3),
                          "az": columns[:, 2].round(3), "activity": labels})
    return frame


DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))   # (rows, columns) per frame: right, left, down, up


def moving_dot(seed: int = 10, clips: int = 400, frames: int = 6, size: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Clips of a 2×2 bright dot moving one pixel a frame in one of four directions, on noise."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 4, size=(clips, frames, size, size, 1)) * 20).astype(np.uint8)  # 4 levels: compresses well
    y = rng.integers(0, len(DIRECTIONS), size=clips).astype(np.int64)
    margin = frames + 1
    for clip, direction in enumerate(y):
        dr, dc = DIRECTIONS[direction]
        r = int(rng.integers(0, size - 1)) if dr == 0 else (int(rng.integers(0, size - margin)) if dr > 0
                                                            else int(rng.integers(margin - 1, size - 1)))
        c = int(rng.integers(0, size - 1)) if dc == 0 else (int(rng.integers(0, size - margin)) if dc > 0
                                                            else int(rng.integers(margin - 1, size - 1)))
        for f in range(frames):
            rr, cc = r + dr * f, c + dc * f
            x[clip, f, rr:rr + 2, cc:cc + 2, 0] = 255
    return x, y


def main() -> None:
    for name, frame in (("sales.csv", sales()), ("stores.csv", stores()), ("activity.csv", activity())):
        frame.to_csv(FOLDER / name, index=False)
        print(f"wrote {FOLDER / name} ({len(frame)} rows)")
    x, y = moving_dot()
    np.savez_compressed(FOLDER / "moving_dot.npz", x=x, y=y)
    print(f"wrote {FOLDER / 'moving_dot.npz'} (x {x.shape} uint8, y {y.shape})")


if __name__ == "__main__":
    main()
