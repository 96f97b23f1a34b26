"""`python -m appliance.scenes` writes the video and truth and says so in one line."""

from __future__ import annotations

import json

import pytest

from appliance.scenes.__main__ import main


def test_cli_writes_video_and_truth_and_prints_a_summary(tmp_path, capsys) -> None:
    code = main(
        [
            "--scene",
            "escape",
            "--out",
            str(tmp_path),
            "--seconds",
            "3",
            "--size",
            "320x180",
            "--night",
            "--seed",
            "3",
            "--quiet",
        ]
    )
    summary = capsys.readouterr().out.strip()
    truth = json.loads((tmp_path / "escape_night.json").read_text())
    assert code == 0
    assert (tmp_path / "escape_night.mp4").stat().st_size > 0
    assert summary.startswith("scene=escape frames=30 size=320x180 fps=10 night=yes seed=3")
    assert f"escape(track 4) at frame {truth['conditions'][0]['start_frame']}" in summary
    assert (truth["width"], truth["height"], truth["seed"]) == (320, 180, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scene", "stampede"], "invalid choice"),
        (["--scene", "escape", "--seconds", "0.5"], "at least 2.0 seconds"),
        (["--scene", "escape", "--size", "big"], "size must look like 640x360"),
    ],
)
def test_cli_refuses_bad_arguments(tmp_path, capsys, args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
