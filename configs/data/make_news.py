"""Generate configs/data/news/: a small text folder for the text example — one subfolder per class
(`food`, `sport`, `tech`), 40 short .txt articles each, words drawn from the class's own vocabulary
mixed with common words. `write_news` also makes folders for the tests. Run:

    python configs/data/make_news.py      # rewrites configs/data/news/ (seeded)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TOPICS = {
    "food": "bread cheese soup recipe oven spice dinner salad fruit bake butter garlic".split(),
    "sport": "goal match team score win league coach player ball season referee stadium".split(),
    "tech": "code chip software robot data cloud app phone network device server update".split(),
}
COMMON = "the a and of to in is it for on with this that was at by from new more".split()


def write_news(folder: Path, per_class: int = 40, seed: int = 0, topic_share: float = 0.3) -> list[Path]:
    """`per_class` articles per topic under folder/<topic>/NNN.txt (UTF-8)."""
    rng = np.random.default_rng(seed)
    written = []
    for topic, words in TOPICS.items():
        (Path(folder) / topic).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            tokens = [str(rng.choice(words)) if rng.random() < topic_share else str(rng.choice(COMMON))
                      for _ in range(int(rng.integers(12, 40)))]
            path = Path(folder) / topic / f"{topic}_{i:03d}.txt"
            path.write_text(" ".join(tokens).capitalize() + ".\n", encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    folder = Path(__file__).resolve().parent / "news"
    print(f"wrote {len(write_news(folder))} articles under {folder}")


if __name__ == "__main__":
    main()
