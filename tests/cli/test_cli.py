import json

import cv2
import numpy as np
import pytest

from dwpose_core.cli.main import main
from dwpose_core.files.images import read_image, write_image
from oracles import expected_fixed_points, make_detector, make_pose

BOX = (40.0, 20.0, 200.0, 230.0)  # person box in frame px of a 240x320 frame (letterbox ratio 2)


@pytest.fixture
def models(tmp_path):
    det = make_detector(tmp_path / "det.onnx", [tuple(np.array(BOX) * 2.0) + (0.9,)])
    pose = make_pose(tmp_path / "pose.onnx")
    return ["--det", str(det), "--pose", str(pose), "--backend", "onnxruntime", "-q"]


def test_images_and_folders_write_png_and_json(tmp_path, models):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        write_image(folder / name, np.zeros((240, 320, 3), np.uint8))
    single = tmp_path / "single.png"
    write_image(single, np.zeros((240, 320, 3), np.uint8))
    out = tmp_path / "out"
    assert main([str(folder), str(single), "--out", str(out), "--feet", *models]) == 0
    for stem in ("a", "b", "single"):
        data = json.loads((out / f"{stem}.json").read_text())
        assert isinstance(data, list) and len(data) == 1
        frame = data[0]
        assert (frame["canvas_width"], frame["canvas_height"]) == (320, 240)
        (person,) = frame["people"]
        wb = np.array(person["wholebody_keypoints_2d"]).reshape(133, 3)
        np.testing.assert_allclose(wb[3:, :2], expected_fixed_points(BOX, (256, 192)), atol=1e-3)
        image = read_image(out / f"{stem}_pose.png")
        assert image.shape == (240, 320, 3) and image.any()


def test_resolution_sets_the_short_side(tmp_path, models):
    write_image(tmp_path / "x.png", np.zeros((240, 320, 3), np.uint8))
    assert main([str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), "--resolution", "480", *models]) == 0
    assert read_image(tmp_path / "o" / "x_pose.png").shape == (480, 640, 3)
    # the JSON stays in the original frame's pixels
    assert json.loads((tmp_path / "o" / "x.json").read_text())[0]["canvas_width"] == 320


def test_video_gives_one_json_entry_per_frame_and_a_pose_video(tmp_path, models):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(12):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    out = tmp_path / "vout"
    assert main([str(path), "--out", str(out), *models]) == 0
    data = json.loads((out / "clip.json").read_text())
    assert len(data) == 12 and all(len(f["people"]) == 1 for f in data)
    capture = cv2.VideoCapture(str(out / "clip_pose.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 12


def test_missing_model_file_exits_2_with_an_instruction(tmp_path, capsys):
    write_image(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    code = main([str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), "--det", "none",
                 "--pose", str(tmp_path / "nowhere" / "missing.onnx"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing.onnx" in err.splitlines()[0]


@pytest.mark.parametrize("bad", [["--resolution", "10"], ["--max-people", "-1"], ["--det-every", "0"]])
def test_wrong_arguments_exit_2(tmp_path, models, bad, capsys):
    write_image(tmp_path / "x.png", np.zeros((32, 32, 3), np.uint8))
    assert main([str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), *models, *bad]) == 2
    assert "error:" in capsys.readouterr().err


def test_nonexistent_input_is_a_failed_input(tmp_path, models, capsys):
    assert main([str(tmp_path / "nope.png"), "--out", str(tmp_path / "o"), *models]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_video_smoothing_and_detection_interval_flags(tmp_path, models):
    path = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for _ in range(40):  # more than one 32-frame chunk: state carries across chunks
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    out = tmp_path / "sout"
    assert main([str(path), "--out", str(out), "--smooth", "1", "--det-every", "4", *models]) == 0
    data = json.loads((out / "walk.json").read_text())
    assert len(data) == 40
    assert {p["track_id"] for f in data for p in f["people"]} == {0}
