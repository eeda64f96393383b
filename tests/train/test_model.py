"""The proxy CNN-GRU: its size, that it learns, and that only answer tokens carry loss."""
import torch
import torch.nn.functional as F

from harness.train.model import (
    IGNORE_INDEX,
    ProxyVLM,
    count_parameters,
    next_token_loss,
)


def _batch(seed=0, b=2, t=24, size=64):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(b, 3, size, size, generator=g)
    ids = torch.randint(4, 260, (b, t), generator=g)
    labels = ids.clone()
    labels[:, :10] = IGNORE_INDEX          # prompt
    labels[1, -4:] = IGNORE_INDEX          # padding of the shorter row
    return images, ids, labels


def test_parameter_count_near_the_seed():
    n = count_parameters(ProxyVLM())
    print(f"proxy parameters: {n:,}")
    assert 600_000 <= n <= 700_000


def test_one_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = ProxyVLM()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images, ids, labels = _batch()
    before = model.loss(images, ids, labels)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = model.loss(images, ids, labels)
    assert after.item() < before.item() - 1e-3


def test_loss_is_cross_entropy_over_answer_positions_only():
    torch.manual_seed(0)
    model = ProxyVLM()
    images, ids, labels = _batch()
    with torch.no_grad():
        logits = model(images, ids)
        loss = next_token_loss(logits, labels)
        # by hand: position t predicts label t+1, only where that label is an answer token
        keep = labels[:, 1:] != IGNORE_INDEX
        manual = F.cross_entropy(logits[:, :-1][keep], labels[:, 1:][keep])
        assert torch.allclose(loss, manual, atol=1e-6)
        # the same tokens with the prompt unmasked give a different loss: the mask is what excludes them
        unmasked = ids.clone()
        assert not torch.allclose(next_token_loss(logits, unmasked), loss)
        # and what a masked label would have been cannot matter
        other = labels.clone()
        other[:, :10] = IGNORE_INDEX
        assert next_token_loss(logits, other).item() == loss.item()


def test_gradients_reach_the_image_encoder():
    model = ProxyVLM()
    images, ids, labels = _batch()
    model.loss(images, ids, labels).backward()
    assert model.encoder.convs[0].weight.grad.abs().sum() > 0


def test_all_masked_batch_gives_zero_not_nan():
    logits = torch.randn(2, 5, 260, requires_grad=True)
    labels = torch.full((2, 5), IGNORE_INDEX)
    loss = next_token_loss(logits, labels)
    assert loss.item() == 0.0
    loss.backward()
