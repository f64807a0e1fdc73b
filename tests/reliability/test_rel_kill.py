"""Kill -9 at random moments: everything the annotator reported saved survives, nothing is half-written."""
import pytest

from tests.reliability.killloop import kill_loop, make_image_folder

KILLS = 16


@pytest.mark.slow
def test_kill_9_never_loses_a_confirmed_annotation(tmp_path, figures):
    folder = make_image_folder(tmp_path / "images", n=4, seed=3)
    summary = kill_loop(folder, kills=KILLS, seed=11, delay=(0.05, 0.9))
    figures["kills"] += summary.kills
    figures["saves_confirmed"] += summary.saves_confirmed
    figures["lost"] += summary.lost
    assert summary.kills == KILLS
    assert summary.saves_confirmed >= KILLS, "the driver should confirm saves between kills"
    assert summary.objects_confirmed > 0 and summary.files_parsed > 0
    assert summary.kills_mid_save >= 1, "some kills landed in the middle of a save"
    assert summary.problems == []
    assert summary.lost == 0
