"""resolve_run and list_runs: ids, prefixes, paths and `latest`, on fabricated run folders
(a folder with a run.json is a run; nothing here trains)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlrun.errors import RunLookupError
from dlrun.runs.lookup import list_runs, resolve_run, run_dirs
from dlrun.runs.rundir import RunDir


def make_run(runs_dir: Path, run_id: str, **info) -> Path:
    """A run folder holding only run.json (with run_id, name and status unless given)."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    name = run_id.split("-", 2)[2].rsplit("-", 1)[0] if run_id.count("-") >= 3 else run_id
    document = {"run_id": run_id, "name": name, "status": "completed", **info}
    (folder / "run.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


@pytest.fixture
def three_runs(runs_dir):
    """Two iris runs a minute apart and one digits run; the digits run started last."""
    make_run(runs_dir, "20260101-100000-iris-aaaa", started="2026-01-01T10:00:00+00:00")
    make_run(runs_dir, "20260101-100100-iris-bbbb", started="2026-01-01T10:01:00+00:00", status="failed")
    make_run(runs_dir, "20260101-110000-digits-cccc", started="2026-01-01T11:00:00+00:00", status="running")
    return runs_dir


# ---- ids and prefixes -------------------------------------------------------------------------

def test_exact_id_resolves_to_its_folder(three_runs):
    found = resolve_run("20260101-100000-iris-aaaa", three_runs)
    assert isinstance(found, RunDir)
    assert found.path == three_runs / "20260101-100000-iris-aaaa"
    assert found.run_id == "20260101-100000-iris-aaaa"


def test_exact_id_wins_over_a_longer_id_it_prefixes(runs_dir):
    make_run(runs_dir, "run-a")
    make_run(runs_dir, "run-ab")
    assert resolve_run("run-a", runs_dir).path == runs_dir / "run-a"


def test_unique_prefix_resolves(three_runs):
    assert resolve_run("20260101-11", three_runs).run_id == "20260101-110000-digits-cccc"
    assert resolve_run("20260101-1001", three_runs).run_id == "20260101-100100-iris-bbbb"


def test_ambiguous_prefix_is_an_error_listing_every_match(three_runs):
    with pytest.raises(RunLookupError) as caught:
        resolve_run("20260101-10", three_runs)
    message = str(caught.value)
    assert "matches 2 runs" in message
    assert "20260101-100000-iris-aaaa" in message and "20260101-100100-iris-bbbb" in message
    assert "digits" not in message
    assert "give more of the id" in message


def test_ambiguous_prefix_with_many_matches_lists_five_and_an_ellipsis(runs_dir):
    for i in range(7):
        make_run(runs_dir, f"20260101-10000{i}-x-{i:04d}")
    with pytest.raises(RunLookupError) as caught:
        resolve_run("2026", runs_dir)
    message = str(caught.value)
    assert "matches 7 runs" in message
    assert message.count("20260101-") == 5 and "…" in message


def test_unknown_id_is_an_error_with_did_you_mean_when_close(three_runs):
    with pytest.raises(RunLookupError) as caught:
        resolve_run("20260101-100000-iris-aaab", three_runs)
    message = str(caught.value)
    assert "no run '20260101-100000-iris-aaab'" in message
    assert str(three_runs) in message
    assert "did you mean '20260101-100000-iris-aaaa'?" in message


def test_unknown_id_far_from_every_run_has_no_suggestion(three_runs):
    with pytest.raises(RunLookupError) as caught:
        resolve_run("zzz", three_runs)
    assert "no run 'zzz'" in str(caught.value)
    assert "did you mean" not in str(caught.value)


def test_unknown_id_in_an_empty_runs_dir_says_it_holds_no_runs(runs_dir):
    runs_dir.mkdir()
    with pytest.raises(RunLookupError, match="holds no runs"):
        resolve_run("abc", runs_dir)


def test_folder_without_run_json_is_not_a_run(runs_dir):
    (runs_dir / "20260101-100000-half-dddd").mkdir(parents=True)
    (runs_dir / ".hidden-run").mkdir()
    (runs_dir / ".hidden-run" / "run.json").write_text("{}")
    assert run_dirs(runs_dir) == []
    with pytest.raises(RunLookupError):
        resolve_run("20260101-100000-half-dddd", runs_dir)
    with pytest.raises(RunLookupError):
        resolve_run("latest", runs_dir)


def test_lookup_error_is_a_user_error_that_exits_2():
    from dlrun.errors import EXIT_USAGE, UserError

    assert issubclass(RunLookupError, UserError)
    assert RunLookupError("x").exit_code == EXIT_USAGE


# ---- latest ---------------------------------------------------------------------------------

def test_latest_is_the_newest_by_started_in_run_json(three_runs):
    assert resolve_run("latest", three_runs).run_id == "20260101-110000-digits-cccc"


def test_latest_follows_started_not_the_folder_name(runs_dir):
    make_run(runs_dir, "zzz-old", started="2025-06-01T09:00:00+00:00")
    make_run(runs_dir, "aaa-new", started="2026-06-01T09:00:00+00:00")
    assert resolve_run("latest", runs_dir).run_id == "aaa-new"


def test_latest_orders_started_times_with_different_utc_offsets(runs_dir):
    # 02:30+02:00 is 00:30 UTC; 02:10+01:00 is 01:10 UTC (the autumn DST change in Central Europe)
    make_run(runs_dir, "run-before-dst-change", started="2026-10-25T02:30:00+02:00")
    make_run(runs_dir, "run-after-dst-change", started="2026-10-25T02:10:00+01:00")
    assert resolve_run("latest", runs_dir).run_id == "run-after-dst-change"


def test_latest_in_an_empty_runs_dir_is_an_error(runs_dir):
    runs_dir.mkdir()
    with pytest.raises(RunLookupError) as caught:
        resolve_run("latest", runs_dir)
    assert f"no runs in {runs_dir} yet" in str(caught.value)
    assert "dlrun train" in str(caught.value)


def test_latest_when_the_runs_dir_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(RunLookupError, match="no runs in"):
        resolve_run("latest", tmp_path / "nowhere")


# ---- paths --------------------------------------------------------------------------------------

def test_path_to_a_run_folder_resolves(three_runs):
    folder = three_runs / "20260101-100100-iris-bbbb"
    assert resolve_run(str(folder), three_runs).path == folder


def test_relative_path_to_a_run_folder_resolves(three_runs, monkeypatch):
    monkeypatch.chdir(three_runs.parent)
    found = resolve_run("runs/20260101-100000-iris-aaaa", Path("runs"))
    assert found.run_id == "20260101-100000-iris-aaaa"


def test_path_to_a_folder_without_run_json_is_an_error(three_runs, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunLookupError, match="not a run directory"):
        resolve_run(str(tmp_path / "plain"), three_runs)


@pytest.mark.parametrize("ref", ["../something", "..", ".", "/etc", "/", "../../etc/passwd",
                                 "20260101-100000-iris-aaaa/../../..", "a/b", "..\\windows"])
def test_path_like_refs_that_name_no_run_are_errors(three_runs, monkeypatch, ref):
    monkeypatch.chdir(three_runs)
    with pytest.raises(RunLookupError):
        resolve_run(ref, three_runs)


@pytest.mark.parametrize("ref", ["", " ", "-rf", ".hidden", "...", "a b", "run;rm -rf ~", "run$(id)", "ru*",
                                 "run\x00id", "rün", "~", "%2e%2e"])
def test_odd_characters_are_not_a_run_id(three_runs, ref):
    with pytest.raises(RunLookupError) as caught:
        resolve_run(ref, three_runs)
    assert "not a run id" in str(caught.value)


def test_odd_character_error_says_what_ids_may_hold(three_runs):
    with pytest.raises(RunLookupError) as caught:
        resolve_run("a b", three_runs)
    assert "letters, digits, '.', '_' and '-'" in str(caught.value)


def test_id_never_resolves_to_a_run_outside_the_runs_dir(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-100000-inside-aaaa")
    make_run(tmp_path, "20260101-100000-outside-bbbb")  # a sibling of runs/, not in it
    with pytest.raises(RunLookupError):
        resolve_run("20260101-100000-outside-bbbb", runs)
    assert resolve_run("20260101-100000", runs).run_id == "20260101-100000-inside-aaaa"


def test_dotdot_path_never_resolves_to_a_run_outside_the_runs_dir(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-100000-inside-aaaa")
    outside = make_run(tmp_path, "elsewhere")
    monkeypatch.chdir(runs)
    with pytest.raises(RunLookupError) as caught:
        resolve_run("../elsewhere", runs)
    assert "not a run directory inside the runs directory" in str(caught.value)
    assert outside.is_dir()


def test_dotdot_alone_never_resolves_outside_the_runs_dir(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-100000-inside-aaaa")
    outside = make_run(tmp_path, "elsewhere")
    (outside / "plots").mkdir()
    monkeypatch.chdir(outside / "plots")
    with pytest.raises(RunLookupError, match="inside the runs directory"):
        resolve_run("..", runs)


def test_absolute_path_to_a_run_in_another_runs_dir_is_an_error(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "20260101-100000-inside-aaaa")
    other = make_run(tmp_path / "other_runs", "20260101-100000-other-bbbb")
    with pytest.raises(RunLookupError) as caught:
        resolve_run(str(other), runs)
    assert "point --runs-dir at the folder that holds it" in str(caught.value)
    assert resolve_run(str(other), tmp_path / "other_runs").path == other


def test_latest_without_a_readable_started_sorts_oldest(runs_dir):
    make_run(runs_dir, "zzz-no-start")
    make_run(runs_dir, "aaa-started", started="2020-01-01T00:00:00+00:00")
    assert resolve_run("latest", runs_dir).run_id == "aaa-started"


def test_absolute_path_outside_the_runs_dir_that_is_no_run_is_an_error(three_runs):
    with pytest.raises(RunLookupError, match="/etc: not a run directory"):
        resolve_run("/etc", three_runs)


# ---- list_runs ---------------------------------------------------------------------------------

def test_list_runs_returns_every_run_oldest_first_with_its_path(three_runs):
    found = list_runs(three_runs)
    assert [r["run_id"] for r in found] == ["20260101-100000-iris-aaaa", "20260101-100100-iris-bbbb",
                                           "20260101-110000-digits-cccc"]
    assert all(Path(r["path"]).parent == three_runs for r in found)


def test_list_runs_filters_by_name_substring(three_runs):
    assert [r["run_id"] for r in list_runs(three_runs, name="iri")] == ["20260101-100000-iris-aaaa",
                                                                         "20260101-100100-iris-bbbb"]
    assert [r["run_id"] for r in list_runs(three_runs, name="digits")] == ["20260101-110000-digits-cccc"]
    assert list_runs(three_runs, name="mnist") == []


def test_list_runs_filters_by_status(three_runs):
    assert [r["run_id"] for r in list_runs(three_runs, status="failed")] == ["20260101-100100-iris-bbbb"]
    assert [r["run_id"] for r in list_runs(three_runs, status="completed")] == ["20260101-100000-iris-aaaa"]
    assert list_runs(three_runs, status="diverged") == []


def test_list_runs_combines_name_and_status_filters(three_runs):
    assert [r["run_id"] for r in list_runs(three_runs, name="iris", status="completed")] == \
        ["20260101-100000-iris-aaaa"]
    assert list_runs(three_runs, name="digits", status="completed") == []


def test_list_runs_keeps_a_run_with_an_unreadable_run_json(runs_dir):
    folder = runs_dir / "20260101-100000-broken-eeee"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text("{not json", encoding="utf-8")
    (found,) = list_runs(runs_dir)
    assert found["run_id"] == "20260101-100000-broken-eeee"
    assert list_runs(runs_dir, status="completed") == []


def test_list_runs_of_a_missing_runs_dir_is_empty(tmp_path):
    assert list_runs(tmp_path / "nowhere") == []
