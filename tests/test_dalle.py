"""DALL·E's one-stream transformer (issue #24): the stream and its weighted loss, sampling with a cache,
guidance and seeds, the checkpoint, and its place in the pipeline and the draw command."""
import dataclasses
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_lib import bart, checkpoints, dalle, dalle_mini, oracle
from course_lib.__main__ import TRANSLATOR_NAMES
from course_lib.checkpoints import CheckpointError
from test_cli import run  # (exit status, stdout, stderr) of the command line, in this process

PROMPTS = ["a red circle in the middle", "a big blue box above a green disc"]


@pytest.fixture(scope="module")
def model():
    config, training = dalle.preset("tiny")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return dalle.CaptionToImageGPT(config).eval()


def codes_for(model, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.codebook_size, (batch, model.config.image_tokens), generator=generator)


def test_the_stream_is_padded_caption_then_image_then_codes(model):
    codes = codes_for(model)
    stream = model.stream(PROMPTS, codes)
    length = model.config.max_text_tokens
    assert stream.shape == (2, length + model.config.image_tokens)
    ids, _ = model.tokenizer(PROMPTS[1:], return_tensors="pt").values()
    assert stream[1, :ids.shape[1]].tolist() == ids[0].tolist()  # the caption as the tokenizer writes it
    assert (stream[1, ids.shape[1]:length] == model.tokenizer.pad_token_id).all()  # padded to L
    assert (stream[:, length] == model.image_bos).all()
    assert torch.equal(stream[:, length + 1:], codes[:, :-1] + model.image_offset)


def test_image_positions_never_emit_text_tokens(model):
    loud = dalle.CaptionToImageGPT(model.config).eval()
    loud.load_state_dict(model.state_dict())
    with torch.no_grad():  # make every text token and <image> far likelier than any code
        loud.gpt.lm_head.weight[:loud.image_offset] *= 1000
        loud.gpt.lm_head.weight[loud.image_bos] *= 1000
    codes = dalle.sample(loud, PROMPTS * 8, generator=torch.Generator().manual_seed(0))
    assert codes.shape == (16, loud.config.image_tokens) and codes.dtype == torch.long
    assert codes.min() >= 0 and codes.max() < loud.config.codebook_size
    text_logits, image_logits = loud.part_logits(loud.stream(PROMPTS, codes[:2]))
    assert text_logits.shape[-1] == loud.image_offset and image_logits.shape[-1] == loud.config.codebook_size


def test_each_part_is_next_token_cross_entropy_and_padding_is_no_target(model):
    codes = codes_for(model)
    stream = model.stream(PROMPTS, codes)
    logits = model.gpt(input_ids=stream).logits
    length, t = model.config.max_text_tokens, model.image_offset
    text_targets = stream[:, 1:length]
    keep = text_targets != model.tokenizer.pad_token_id
    text = F.cross_entropy(logits[:, :length - 1, :t][keep], text_targets[keep])
    image = F.cross_entropy(logits[:, length:, t:t + model.config.codebook_size].reshape(-1, model.config.codebook_size),
                            codes.reshape(-1))
    losses = dalle.part_losses(model, PROMPTS, codes)
    assert torch.allclose(losses["text"], text) and torch.allclose(losses["image"], image)


@pytest.mark.parametrize("text_weight", [1 / 8, 0.0, 0.5, 1.0])
def test_the_loss_weights_text_and_image_as_configured(model, text_weight):
    losses = {"text": torch.tensor(2.0), "image": torch.tensor(6.0)}
    assert torch.isclose(dalle.stream_loss(losses, text_weight), torch.tensor(text_weight * 2 + (1 - text_weight) * 6))
    assert dalle.DalleTraining().text_weight == 1 / 8  # DALL·E's: text 1/8, image 7/8

    trained = dalle.CaptionToImageGPT(model.config).eval()  # eval: no dropout, so the step's loss is exact
    trained.load_state_dict(model.state_dict())
    training = dataclasses.replace(dalle.preset("tiny").training, text_weight=text_weight, uncond_prob=0.0)
    codes = codes_for(model)
    expected = dalle.part_losses(trained, PROMPTS, codes)
    step = dalle.make_step(trained, training, torch.optim.SGD(trained.parameters(), lr=0.0), PROMPTS, codes,
                           random.Random(0))
    recorded = step((torch.arange(2),))
    assert recorded["text"] == pytest.approx(expected["text"].item(), rel=1e-5)
    assert recorded["image"] == pytest.approx(expected["image"].item(), rel=1e-5)
    assert recorded["loss"] == pytest.approx(text_weight * recorded["text"] + (1 - text_weight) * recorded["image"],
                                             rel=1e-5)


def test_sampling_with_the_cache_equals_reading_the_whole_stream_again(model):
    greedy = dalle.sample(model, PROMPTS, top_k=1)  # top-1: the likeliest code at every step
    written = torch.zeros(2, 0, dtype=torch.long)
    for i in range(model.config.image_tokens):  # no cache: the whole stream so far, every step
        padded = torch.cat([written, torch.zeros(2, model.config.image_tokens - i, dtype=torch.long)], dim=1)
        _, image_logits = model.part_logits(model.stream(PROMPTS, padded))
        written = torch.cat([written, image_logits[:, i].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(greedy, written)


def test_same_seed_same_codes_temperature_and_top_k(model):
    def draw(seed, **sampling):
        return dalle.sample(model, PROMPTS, generator=torch.Generator().manual_seed(seed), **sampling)
    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))
    assert torch.equal(draw(1, top_k=1), draw(2, top_k=1))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        draw(1, temperature=0)


def test_guidance_mixes_an_empty_caption_and_scale_one_is_plain_sampling(model, monkeypatch):
    plain = dalle.sample(model, PROMPTS, generator=torch.Generator().manual_seed(5))
    assert torch.equal(plain, dalle.sample(model, PROMPTS, guidance_scale=1.0, generator=torch.Generator().manual_seed(5)))
    read = []
    encode = model.encode_prompts
    monkeypatch.setattr(model, "encode_prompts", lambda prompts: read.append(list(prompts)) or encode(prompts))
    scales = []
    guide = bart.guide
    monkeypatch.setattr(bart, "guide", lambda c, u, s: scales.append(s) or guide(c, u, s))
    dalle.sample(model, PROMPTS, guidance_scale=3.0, generator=torch.Generator().manual_seed(5))
    assert read == [PROMPTS + ["", ""]] and scales == [3.0] * model.config.image_tokens


def test_captions_are_dropped_for_guidance_and_token_noise_only_in_training(model):
    torch.manual_seed(0)
    noisy = dalle.CaptionToImageGPT(dataclasses.replace(model.config, image_tokens=16))
    streams = []
    part_logits = noisy.part_logits
    noisy.part_logits = lambda stream: streams.append(stream) or part_logits(stream)
    codes = torch.randint(0, noisy.config.codebook_size, (64, 16))
    clean = noisy.stream(["a red circle"] * 64, codes)
    noisy.train()
    dalle.part_losses(noisy, ["a red circle"] * 64, codes, token_noise=0.5)
    noisy.eval()
    dalle.part_losses(noisy, ["a red circle"] * 64, codes, token_noise=0.5)
    length = noisy.config.max_text_tokens
    assert torch.equal(streams[0][:, :length + 1], clean[:, :length + 1])  # the caption and <image> stay
    assert not torch.equal(streams[0], clean) and torch.equal(streams[1], clean)


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = dalle.CaptionToImageGPT(dalle.preset("tiny").config)
    codes = torch.randint(0, 16, (2, 4))
    adam = torch.optim.Adam(model.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss = dalle.stream_loss(dalle.part_losses(model, PROMPTS, codes), 1 / 8)
        adam.zero_grad()
        loss.backward()
        adam.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_the_checkpoint_round_trips(model, tmp_path):
    checkpoints.save(model, tmp_path / "dalle", model.config, dalle.preset("tiny").training, mode="tiny")
    loaded = dalle.CaptionToImageGPT.from_checkpoint(tmp_path / "dalle")
    assert loaded.config == model.config
    assert torch.equal(dalle.sample(loaded, PROMPTS, generator=torch.Generator().manual_seed(3)),
                       dalle.sample(model, PROMPTS, generator=torch.Generator().manual_seed(3)))


def test_it_swaps_into_the_pipeline(pipeline):
    translator = dalle.build(dalle.preset("smoke").config, pipeline.image_tokenizer)
    swapped = dataclasses.replace(pipeline, translator=translator)
    drawing = swapped.draw("a red circle above a blue square", 4, seed=1)
    assert drawing.codes.shape == (4, 8, 8) and (drawing.scores[:-1] >= drawing.scores[1:]).all()
    again = swapped.draw("a red circle above a blue square", 4, seed=1)
    assert torch.equal(drawing.codes, again.codes)
    assert torch.equal(drawing.codes.flatten(1)[drawing.order.argsort()],
                       dalle.sample(translator, ["a red circle above a blue square"] * 4,
                                    generator=torch.Generator().manual_seed(1)))


def test_the_pipeline_loads_either_translator(tmp_path, capsys):
    assert set(TRANSLATOR_NAMES) == set(dalle_mini.TRANSLATORS)
    assert dalle_mini.checkpoint_paths(translator="dalle") == {
        name: checkpoints.shipped(name) for name in ("dalle", "vqgan", "clip")}
    (tmp_path / "vqgan.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="needs a dalle trained on its codes beside it .* train dalle --out"):
        dalle_mini.checkpoint_paths(tmp_path, "dalle")
    with pytest.raises(ValueError, match="unknown translator 'parti'; choose one of: bart, dalle"):
        dalle_mini.parts("parti")
    loaded = dalle_mini.load_shipped_pipeline("cpu", stand_in=True, translator="dalle")  # shipped, or a stand-in
    assert isinstance(loaded.translator, dalle.CaptionToImageGPT)


def test_draw_takes_the_translator(tmp_path, monkeypatch, capsys):
    calls = []

    class Drawn:
        def draw(self, prompt, n, *, seed=0):
            return dataclasses.make_dataclass("D", ["images", "scores"])(torch.rand(n, 3, 32, 32),
                                                                         torch.linspace(30, 10, n))
    monkeypatch.setattr(dalle_mini, "load_shipped_pipeline", lambda *args, **kwargs: calls.append(kwargs) or Drawn())
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "draw", "a red circle", "-n", "2", "--translator", "dalle", "--device", "cpu")
    assert code == 0, err
    assert calls == [{"directory": None, "translator": "dalle"}] and "wrote out.png" in out


@pytest.mark.parametrize("args, message", [
    (["--translator", "parti"], "argument --translator: invalid choice: 'parti' (choose from "),
    (["--translator", "dalle", "--checkpoints", "."], "holds no dalle, vqgan, clip checkpoint; train one there "
                                                      "(python -m course_lib train dalle --out .)"),
])
def test_draw_with_a_bad_translator_is_one_line_before_loading(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dalle_mini, "load_shipped_pipeline", lambda *a, **k: pytest.fail("a model was loaded"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "draw", "a red circle", *args)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0], err
    assert not Path(tmp_path / "out.png").exists()


def test_sparse_masks_are_causal_read_the_caption_and_keep_their_row_column_or_neighbourhood():
    text, side = 3, 4
    causal = dalle.attention_mask("causal", text, side)
    assert torch.equal(causal, torch.ones(text + side * side, text + side * side).tril().bool())
    cell = {(r, c): text + r * side + c for r in range(side) for c in range(side)}
    for kind in ("row", "column", "convolutional"):
        mask = dalle.attention_mask(kind, text, side)
        assert not (mask & ~causal).any()  # never reads ahead
        assert mask[text:, :text].all() and torch.equal(mask[:text, :text], causal[:text, :text])
        assert mask.diagonal().all()
    row, column, conv = (dalle.attention_mask(k, text, side) for k in ("row", "column", "convolutional"))
    assert row[cell[2, 3], cell[2, 0]] and not row[cell[2, 3], cell[1, 3]]
    assert column[cell[2, 3], cell[0, 3]] and not column[cell[2, 3], cell[2, 0]]
    assert conv[cell[2, 2], cell[1, 1]] and conv[cell[2, 2], cell[1, 3]] and not conv[cell[2, 2], cell[0, 2]]
    with pytest.raises(ValueError, match="unknown mask 'strided'; choose one of: causal, row"):
        dalle.attention_mask("strided", text, side)


def test_rerank_accuracy_keeps_the_rankers_best_of_each_group():
    scores = torch.tensor([[0.0, 5.0, 1.0, 2.0, 9.0, 3.0, 4.0, 8.0]])
    right = torch.tensor([[True, False, False, True, True, False, False, True]])
    assert dalle_mini.rerank_accuracy(scores, right, 1) == pytest.approx(0.5)  # a random sample
    assert dalle_mini.rerank_accuracy(scores, right, 2) == pytest.approx(3 / 4)  # groups (0,5) (1,2) (9,3) (4,8)
    assert dalle_mini.rerank_accuracy(scores, right, 4) == pytest.approx(1 / 2)  # 5 -> wrong, 9 -> right
    assert dalle_mini.rerank_accuracy(scores, right, 8, keep=2) == pytest.approx(1.0)  # 9 and 8
    assert dalle_mini.rerank_accuracy(scores, right, 8, keep=3) == pytest.approx(2 / 3)  # 9, 8 and 5
    with pytest.raises(ValueError, match="need 1 <= keep <= n <= candidates"):
        dalle_mini.rerank_accuracy(scores, right, 16)


def test_judged_puts_a_drawing_back_in_sampling_order(pipeline):
    drawing = pipeline.draw("a red circle above a blue square", 6, seed=2)
    scores, right = dalle_mini.judged(drawing)
    assert torch.equal(scores[drawing.order], drawing.scores)
    assert right[drawing.order].tolist() == oracle.caption_correct(drawing.images, [drawing.prompt] * 6)
    assert dalle_mini.rerank_accuracy(scores[None], right[None], 6) == float(right[drawing.order[0]])
