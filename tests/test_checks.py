"""Every self-check passes on its exercise's solution, and fails with a hint on the stub or a wrong
answer, never with an exception. Solutions and stubs are taken from the notebooks themselves."""
import dataclasses
from pathlib import Path

import nbformat
import pytest
import torch

from course_lib import checks, shapes, student

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# (notebook, exercise number) -> (check in course_lib.checks, the function the exercise defines)
CHECKED = {("00_shapes_world", 1): ("count_colours", "count_colours"),
           ("00_shapes_world", 2): ("scene_by_hand", "my_scene"),
           ("01_vanilla_gan", 1): ("saturating_generator_loss", "saturating_generator_loss"),
           ("01_vanilla_gan", 2): ("colour_shape_size_coverage", "colour_shape_size_coverage"),
           ("02_text_conditional_gan", 1): ("plain_conditional_loss", "plain_conditional_loss"),
           ("02_text_conditional_gan", 2): ("attribute_accuracy", "attribute_accuracy"),
           ("05_vq_vae", 1): ("perplexity", "my_perplexity"),
           ("06_vq_gan", 1): ("hinge_loss", "my_hinge"),
           ("07_bart_translation", 1): ("top_k", "my_top_k"),
           ("07_bart_translation", 2): ("next_code_probs", "my_next_code_probs"),
           ("07_bart_translation", 3): ("decoder_inputs", "my_decoder_inputs"),
           ("08_clip_ranking", 1): ("zero_shot", "my_zero_shot"),
           ("08_clip_ranking", 2): ("rank_scores", "my_rank"),
           ("08_clip_ranking", 3): ("relevance", "my_relevance"),
           ("09_dalle_mini_pipeline", 1): ("ranker", "my_ranker"),
           ("09_dalle_mini_pipeline", 2): ("draw_by_hand", "my_draw")}
PRELUDE = ("import math\nimport torch\nimport torch.nn.functional as F\n"
           "from course_lib import autoencoder, bart, captions, checks, datasets, gan, oracle, shapes, viz, vq, vqgan\n")


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
