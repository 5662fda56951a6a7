import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ml.checkpoint import new_training_state
from ml.device import runtime
from ml.engine import cycle, train_steps, warmup_cosine


def test_the_schedule_warms_up_linearly_then_decays_to_its_floor_and_never_to_zero():
    f = warmup_cosine(50, warmup_steps=4, floor=0.1)
    assert [round(f(s), 2) for s in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    values = [f(s) for s in range(4, 51)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert f(50) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)


def test_the_endless_loader_reshuffles_on_every_pass():
    loader = DataLoader(TensorDataset(torch.arange(32)), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    batches = cycle(loader)
    first, second = next(batches)[0], next(batches)[0]
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(32))
    assert first.tolist() != second.tolist()


def test_the_endless_loader_refuses_empty_data():
    with pytest.raises(ValueError, match="no batches"):
        next(cycle([]))


def test_the_step_loop_takes_the_budget_and_calls_back_on_its_cadence():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = new_training_state(model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0),
                               torch.amp.GradScaler("cpu", enabled=False))
    calls, seen = [], []
    batches = iter([(torch.ones(3, 2),)] * 7)

    def loss_fn(m, batch):
        seen.append(len(batch[0]))
        return m(batch[0]).pow(2).mean()

    train_steps(state, batches, loss_fn, total_steps=7, every=3, rt=runtime(),
                on_checkpoint=lambda metrics: calls.append((state["step"], metrics["train_loss"] >= 0)))
    assert state["step"] == 7 and len(seen) == 7
    assert calls == [(3, True), (6, True), (7, True)]
    assert state["lr_scheduler"].last_epoch == 7
