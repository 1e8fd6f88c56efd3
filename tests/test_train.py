import pytest
import torch

from course_lib import datasets
from course_lib.train import Budget, History, fit


def _counting_step():
    calls = []

    def step(batch):
        calls.append(batch)
        return {"loss": 1.0 / len(calls)}
    return step, calls


def test_fit_stops_at_the_step_budget_and_records_losses():
    step, calls = _counting_step()
    history = fit(step, [1, 2, 3], Budget(steps=7), progress=False)
    assert len(calls) == 7 and calls == [1, 2, 3, 1, 2, 3, 1]  # cycles through the data
    assert history.steps == 7 and history.losses["loss"][-1] == pytest.approx(1 / 7)


def test_fit_stops_at_the_time_budget():
    step, calls = _counting_step()
    history = fit(step, range(10), Budget(steps=10**9, seconds=0.2), progress=False)
    assert 0 < len(calls) < 10**9 and history.seconds >= 0.2


def test_callback_runs_every_n_steps_and_at_the_end():
    seen = []
    fit(lambda b: {"loss": 0.0}, [0], Budget(steps=10), every=4,
        callback=lambda i, h: seen.append(i), progress=False)
    assert seen == [4, 8, 10]


def test_history_continues_and_averages():
    history = History()
    fit(lambda b: {"a": 2.0}, [0], Budget(steps=3), history=history, progress=False)
    fit(lambda b: {"a": 4.0}, [0], Budget(steps=1), history=history, progress=False)
    assert history.steps == 4 and history.last(2) == {"a": 3.0}


def test_bad_budget_and_empty_data_are_explained():
    with pytest.raises(ValueError, match="at least one step"):
        Budget(steps=0)
    with pytest.raises(ValueError, match="smaller than one batch"):
        fit(lambda b: {}, [], Budget(steps=1), progress=False)


def test_a_real_model_trains_on_shapes_batches():
    torch.manual_seed(0)
    data = datasets.ShapesDataset(64, kind="one")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 3 * 32 * 32))
    opt = torch.optim.Adam(model.parameters(), 1e-3)

    def step(batch):
        images, _ = batch
        loss = torch.nn.functional.mse_loss(model(images), images.flatten(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"mse": loss.item()}

    history = fit(step, datasets.loader(data, 16), Budget(steps=40), progress=False)
    assert history.losses["mse"][-1] < history.losses["mse"][0]


def test_dataset_pairs_pictures_with_their_captions_deterministically():
    a, b = datasets.ShapesDataset(20, seed=1), datasets.ShapesDataset(20, seed=1)
    assert a.captions == b.captions and torch.equal(a.images, b.images)
    image, caption = a[3]
    assert image.shape == (3, 32, 32) and isinstance(caption, str)
    assert datasets.ShapesDataset(4, resolution=64).images.shape[-1] == 64
    first = next(iter(datasets.loader(a, 8, seed=0)))[1]
    assert first == next(iter(datasets.loader(a, 8, seed=0)))[1]


def test_torchvision_sets_offline_say_so(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="choose one of: mnist"):
        datasets.torchvision_dataset("imagenet")
    import urllib.request

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(ConnectionError, match="could not download mnist"):
        datasets.torchvision_dataset("mnist", root=tmp_path)


def test_cosine_schedule_warms_up_then_decays_to_its_floor():
    from course_lib.train import CosineSchedule

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = CosineSchedule(optimizer, Budget(steps=200), warmup=0.05, final=0.1)
    rates = []
    for _ in range(200):
        rates.append(optimizer.param_groups[0]["lr"])
        schedule.step()
    assert rates[0] == pytest.approx(0.1)  # 1 of 10 warm-up steps
    assert rates.index(max(rates)) == 9 and rates[9] > 0.99  # full rate after the warm-up
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))  # then only down
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # the floor at the budget's end


def test_cosine_schedule_follows_the_clock_when_time_runs_out_first(monkeypatch):
    from course_lib import train

    clock = [0.0]
    monkeypatch.setattr(train.time, "perf_counter", lambda: clock[0])
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = train.CosineSchedule(optimizer, Budget(steps=1000, seconds=10.0), warmup=0.0)
    clock[0] = 5.0  # half the time gone after one step: half-way down the cosine
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.55)
