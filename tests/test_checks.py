"""Every self-check passes on its exercise's solution, and fails with a hint on the stub or a wrong
answer, never with an exception. Solutions and stubs are taken from the notebooks themselves."""
import dataclasses
from pathlib import Path

import nbformat
import pytest
import torch

from course_lib import checks, shapes, student, text_gan

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# (notebook, exercise number) -> (check in course_lib.checks, the function the exercise defines)
CHECKED = {("00_shapes_world", 1): ("count_colours", "count_colours"),
           ("00_shapes_world", 2): ("scene_by_hand", "my_scene"),
           ("00_shapes_world", 3): ("read_rate", "read_rate"),
           ("01_vanilla_gan", 1): ("saturating_generator_loss", "saturating_generator_loss"),
           ("01_vanilla_gan", 2): ("colour_shape_size_coverage", "colour_shape_size_coverage"),
           ("01_vanilla_gan", 3): ("truncated_samples", "truncated_samples"),
           ("01_vanilla_gan", 4): ("gan_arm", "train_arm"),
           ("02_text_conditional_gan", 1): ("plain_conditional_loss", "plain_conditional_loss"),
           ("02_text_conditional_gan", 2): ("attribute_accuracy", "attribute_accuracy"),
           ("02_text_conditional_gan", 3): ("shuffled_accuracy", "shuffled_accuracy"),
           ("02_text_conditional_gan", 4): ("text_gan_arm", "train_arm"),
           ("03_autoencoder", 1): ("interpolate", "interpolate"),
           ("03_autoencoder", 2): ("grid_validity", "grid_validity"),
           ("03_autoencoder", 3): ("mse_loss", "mse_loss"),
           ("04_vae", 1): ("vae_loss", "vae_loss"),
           ("04_vae", 2): ("sample_with_temperature", "sample_with_temperature"),
           ("04_vae", 3): ("pair_mistakes", "pair_mistakes"),
           ("05_vq_vae", 1): ("my_perplexity", "my_perplexity"),
           ("05_vq_vae", 2): ("vq_layer", "my_vq"),
           ("05_vq_vae", 3): ("token_budget", "my_token_budget"),
           ("05_vq_vae", 4): ("restart_dead_codes", "my_restart"),
           ("06_vq_gan", 1): ("hinge_loss", "my_hinge"),
           ("06_vq_gan", 2): ("my_adaptive_weight", "my_adaptive_weight"),
           ("06_vq_gan", 3): ("round_trip", "my_round_trip"),
           ("06_vq_gan", 4): ("vqgan_arm", "train_arm"),
           ("07_bart_translation", 1): ("my_top_k", "my_top_k"),
           ("07_bart_translation", 2): ("next_code_probs", "my_next_code_probs"),
           ("07_bart_translation", 3): ("decoder_inputs", "my_decoder_inputs"),
           ("07_bart_translation", 4): ("temperature_study", "temperature_study"),
           ("08_clip_ranking", 1): ("zero_shot", "my_zero_shot"),
           ("08_clip_ranking", 2): ("rank_scores", "my_rank"),
           ("08_clip_ranking", 3): ("my_relevance", "my_relevance"),
           ("08_clip_ranking", 4): ("recall_at_1", "recall_at_1"),
           ("09_dalle_mini_pipeline", 1): ("ranker", "my_ranker"),
           ("09_dalle_mini_pipeline", 2): ("draw_by_hand", "my_draw"),
           ("09_dalle_mini_pipeline", 3): ("guidance_study", "guidance_study"),
           ("10_dalle_transformer", 1): ("one_stream", "my_stream"),
           ("10_dalle_transformer", 2): ("column_mask", "my_column_mask"),
           ("10_dalle_transformer", 3): ("keep_top", "my_keep_top"),
           ("11_diffusion", 1): ("predicted_x0", "predicted_x0"),
           ("11_diffusion", 2): ("ddim_step", "ddim_step"),
           ("12_glide", 1): ("caption_dropout", "caption_dropout"),
           ("12_glide", 2): ("put_back", "put_back"),
           ("13_dalle2_imagen", 1): ("prior_loss", "prior_loss"),
           ("13_dalle2_imagen", 2): ("my_dynamic_threshold", "dynamic_threshold"),
           ("13_dalle2_imagen", 3): ("my_swap_kind", "swap_kind"),
           ("14_open_source_and_leaderboard", 1): ("my_fooled", "fooled"),
           ("14_open_source_and_leaderboard", 2): ("my_guided_eps", "guided_eps"),
           ("14_open_source_and_leaderboard", 3): ("my_ranking", "ranking")}
PRELUDE = ("import dataclasses\nimport math\nimport torch\nimport torch.nn.functional as F\nimport course_lib\n"
           "from course_lib import autoencoder, bart, captions, checks, clip, datasets, diffusion_process, gan, leaderboard, oracle, shapes, text_gan, viz, vq, vqgan\n"
           "from course_lib.train import seeded\n")


def _exercise(notebook, number, stub):
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    source = nb.cells[student.exercises(nb)[number - 1][0]].source
    namespace = {}
    exec(PRELUDE + (student.clear_solutions(source) if stub else source), namespace)
    return namespace


@pytest.mark.parametrize("key", sorted(CHECKED), ids=lambda k: f"{k[0]}-ex{k[1]}")
def test_check_passes_on_the_solution(key, capsys):
    check, function = CHECKED[key]
    assert getattr(checks, check)(_exercise(*key, stub=False)[function]) is True
    assert capsys.readouterr().out.startswith(f"✓ {check}")


@pytest.mark.parametrize("key", sorted(CHECKED), ids=lambda k: f"{k[0]}-ex{k[1]}")
def test_check_fails_with_a_hint_on_the_stub(key, capsys):
    check, function = CHECKED[key]
    assert getattr(checks, check)(_exercise(*key, stub=True)[function]) is False
    assert capsys.readouterr().out.strip() == f"✗ {check}: {checks.NOT_DONE}"


def test_every_check_a_notebook_calls_exists():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for _solution, check in student.exercises(nb):
            if check is not None and "checks." in nb.cells[check].source:
                name = nb.cells[check].source.split("checks.", 1)[1].split("(", 1)[0]
                assert callable(getattr(checks, name, None)), f"{path.name} calls checks.{name}, which is missing"


def test_a_wrong_answer_names_input_and_expected(capsys):
    assert checks.count_colours(lambda picture: 1) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ count_colours: for the picture of") and "it returned 1; expected 2" in out


def test_a_wrong_loss_names_the_logits(capsys):
    assert checks.saturating_generator_loss(lambda logits: torch.log(torch.sigmoid(logits)).mean()) is False
    assert capsys.readouterr().out.startswith("✗ saturating_generator_loss: for fake_logits [-6.0, 0.0, 3.0] "
                                              "it returned -2.248; expected -1.248")


def test_a_wrong_scene_says_what_it_shows(capsys):
    wrong = shapes.Scene((shapes.Obj("circle", "green", "small", 5), shapes.Obj("square", "red", "big", 4)))
    assert checks.scene_by_hand(lambda: wrong) is False
    assert "your scene shows 'a small green circle" in capsys.readouterr().out


@pytest.mark.parametrize("argument", [None, 3, lambda: None, lambda picture: 1 / 0])
def test_checks_never_raise(argument, capsys):
    assert checks.count_colours(argument) is False
    assert checks.scene_by_hand(argument) is False
    assert capsys.readouterr().out.count("✗") == 2


class _SceneTokenizer(torch.nn.Module):
    """Decodes any codes to the picture of one fixed scene: a part of one's own, for the swap test."""

    def __init__(self, scene):
        super().__init__()
        self.scene, self.anchor = scene, torch.nn.Parameter(torch.zeros(()))

    def decode(self, codes):
        return shapes.render([self.scene] * len(codes))


def test_pipeline_accuracy_of_a_swapped_tokenizer(pipeline, capsys):
    red_circle = shapes.Scene((shapes.Obj("circle", "red", "big", 4),))
    swapped = dataclasses.replace(pipeline, image_tokenizer=_SceneTokenizer(red_circle))
    prompts = ["a big red circle in the middle", "a blue square"]
    assert checks.pipeline_accuracy(swapped, prompts, n=2) == {"best": 0.5, "all": 0.5}
    assert checks.pipeline_part(swapped, prompts, n=2, at_least=0.5) is True
    assert "caption accuracy 50% for the best-ranked pictures" in capsys.readouterr().out
    assert checks.pipeline_part(swapped, prompts, n=2, at_least=0.9) is False
    assert "the exercise asks for at least 90%" in capsys.readouterr().out


def test_pipeline_part_hints_at_a_stub_or_a_wrong_shape(pipeline, capsys):
    def stub(codes):
        raise NotImplementedError

    tokenizer = _SceneTokenizer(None)
    tokenizer.decode = stub
    assert checks.pipeline_part(dataclasses.replace(pipeline, image_tokenizer=tokenizer), ["a red disc"], n=2) is False
    assert checks.NOT_DONE in capsys.readouterr().out
    flat_ranker = dataclasses.replace(pipeline, ranker=lambda pictures, prompt: pictures.mean((2, 3)))
    assert checks.pipeline_part(flat_ranker, ["a red disc"], n=2) is False
    assert "gave (2, 3); expected one score per picture (2,)" in capsys.readouterr().out


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_exercise_has_a_self_check_proved_here(path):
    """Each exercise's check cell starts with ``assert checks.NAME(fn), "see the hint above"``, for the
    check and function CHECKED lists (so the two tests above cover it); every notebook has one."""
    nb = nbformat.read(path, as_version=4)
    found = student.exercises(nb)
    assert found, f"{path.name} has no exercise with a self-check"
    for number, (_solution, check) in enumerate(found, start=1):
        assert (path.stem, number) in CHECKED, f"{path.stem} exercise {number} is not in CHECKED"
        name, function = CHECKED[path.stem, number]
        first_line = nb.cells[check].source.split("\n", 1)[0]
        assert first_line == f'assert checks.{name}({function}), "see the hint above"', (path.stem, number, first_line)


NUMBERED_ROWS = {f"| {number:02d} " for number in range(100)}  # a table row that starts with a notebook's number


def test_the_readme_lists_every_check():
    """The instructors' table in the README names each notebook's self-checks, in exercise order."""
    rows = {line.split("|")[1].strip()[:2]: line.split("|")[2] for line in
            (NOTEBOOKS.parent / "README.md").read_text().splitlines() if line[:5] in NUMBERED_ROWS and "`" in line}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        names = [CHECKED[key][0] for key in sorted(CHECKED) if key[0] == path.stem]
        listed = [part.split("`")[1] for part in rows[path.stem[:2]].split(",") if "`" in part]
        assert listed == names, (path.stem, listed, names)


def test_a_vq_layer_without_the_straight_through_gradient_is_named(capsys):
    def no_straight_through(z_e, codebook, beta):
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        ids = torch.cdist(flat, codebook).argmin(1)
        e = codebook[ids]
        loss = (flat.detach() - e).pow(2).mean() + beta * (flat - e.detach()).pow(2).mean()
        return e.view(b, h, w, d).permute(0, 3, 1, 2), ids.view(b, h, w), loss

    assert checks.vq_layer(no_straight_through) is False
    out = capsys.readouterr().out
    assert "the gradient of z_q with respect to z_e is wrong" in out and "straight-through" in out


def test_a_ranker_that_picks_the_wrong_picture_is_named(capsys):
    assert checks.ranker(lambda pictures, prompt: pictures.sum((1, 2, 3))) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ ranker: for 'a big red circle in the middle' it scored the pictures")
    assert "expected 'a big red circle in the middle' strictly first" in out


def test_a_pipeline_by_hand_that_forgets_to_sort_is_caught(capsys):
    from course_lib import bart

    def unsorted(pipeline, prompt, n, seed):
        codes = bart.sample(pipeline.translator, [prompt] * n, temperature=pipeline.temperature, top_k=pipeline.top_k,
                            guidance_scale=pipeline.guidance_scale, generator=torch.Generator().manual_seed(seed))
        pictures = pipeline.image_tokenizer.decode(codes.view(n, 8, 8))
        return pictures, pipeline.ranker(pictures, prompt)

    assert checks.draw_by_hand(unsorted) is False
    assert "✗ draw_by_hand: for a tiny random pipeline, 'a red circle', n=4, seed=0 it returned" in capsys.readouterr().out


def test_recall_counted_by_own_picture_is_caught(capsys):
    """R@1 that counts only the prompt's own picture differs from the oracle's count once prompts leave things open."""
    from course_lib import clip

    def own_picture(model, scenes, prompts):
        best = clip.relevance(model, shapes.render(scenes), prompts).argmax(0)
        return (best == torch.arange(len(prompts))).float().mean().item()

    assert checks.recall_at_1(own_picture) is False
    assert "with size and position left open it returned" in capsys.readouterr().out


def test_a_restart_that_also_moves_codes_at_the_threshold_is_caught(capsys):
    def at_or_below(codebook, code_use, flat, dead_below, generator):
        restarted = codebook.clone()
        dead = code_use <= dead_below
        restarted[dead] = flat[torch.randint(len(flat), (int(dead.sum()),), generator=generator)]
        return restarted

    assert checks.restart_dead_codes(at_or_below) is False
    assert "dead_below=2.0" in capsys.readouterr().out


def test_a_temperature_study_that_ignores_the_temperature_is_caught(capsys):
    from course_lib import bart, oracle

    def ignores(model, image_tokenizer, prompt, n, temperatures):
        codes = bart.sample(model, [prompt] * n, generator=torch.Generator().manual_seed(0))
        pictures = image_tokenizer.decode(codes.view(n, 8, 8))
        figures = (oracle.caption_accuracy(pictures, [prompt] * n), oracle.variety(pictures, prompt))
        return {t: figures for t in temperatures}

    assert checks.temperature_study(ignores) is False
    assert "✗ temperature_study: for a tiny random translator" in capsys.readouterr().out


def test_a_guidance_study_that_keeps_the_scale_is_caught(capsys):
    def keeps_the_scale(pipeline, prompts, scales, n):
        return {s: checks.pipeline_accuracy(pipeline, prompts, n) for s in scales}

    assert checks.guidance_study(keeps_the_scale) is False
    assert "✗ guidance_study: for a tiny random pipeline at temperature 0.7" in capsys.readouterr().out


def test_an_arm_that_drops_its_change_or_its_seed_is_named(capsys):
    from course_lib.checks import ablation_arms

    def ignores_changes(changes, steps, mode, device):  # every arm the recipe: the spectral-norm arm has other parts
        return ablation_arms._gan_arm({}, steps, mode, device)

    assert checks.gan_arm(ignores_changes) is False
    assert "for changes {'d_norm': 'spectral'}, steps 3, mode 'tiny', device 'cpu': its model has other parts" \
        in capsys.readouterr().out

    def unseeded(wrong_weight, steps, seed, mode, device):  # built outside the training seed
        config, training = text_gan.preset(mode)
        model = text_gan.build(config).to(device)
        training = dataclasses.replace(training, steps=steps, seconds=None, seed=seed, wrong_weight=wrong_weight)
        return text_gan.train(model, training, progress=False)[0]

    torch.manual_seed(123)
    assert checks.text_gan_arm(unseeded) is False
    assert "its weights differ from the reference arm's, first at" in capsys.readouterr().out
