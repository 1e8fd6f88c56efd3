"""Self-checks for the exercises: run the learner's code against the reference on small cases.

A check answers in one line, never with a stack trace, and returns True or False (it never raises):

- ``✓ count_colours: right on 9 cases`` when the code agrees with the reference;
- ``✗ count_colours: not done yet: ...`` while the code still says ``raise NotImplementedError``;
- ``✗ count_colours: for the picture of 'a red circle' it returned 2; expected 1`` when it is wrong,
  naming the input, what came back and what was expected;
- ``✗ count_colours: your code raised ValueError: ...`` when it fails.

A notebook's check cell is ``assert checks.count_colours(count_colours), "see the hint above"``:
the hint is what the learner reads, and the failed assert is what nbgrader grades. A check that
would share its name with the library function the exercise rebuilds is named after the learner's
function instead: ``checks.my_perplexity(my_perplexity)`` checks a rebuilt ``vq.perplexity``.

The checks live by notebook; each is imported here, so ``checks.NAME`` is all a notebook needs:

- ``shapes_world``: notebook 00;
- ``gans``: notebooks 01 (vanilla GAN) and 02 (text-conditional GAN);
- ``autoencoders``: notebooks 03 (autoencoder) and 04 (VAE);
- ``vq_tokenizers``: notebooks 05 (VQ-VAE) and 06 (VQ-GAN);
- ``bart_translation``: notebook 07;
- ``clip_ranking``: notebook 08;
- ``dalle_mini_pipeline``: notebook 09, with ``pipeline_accuracy`` and ``pipeline_part``, which
  measure the pipeline with a part of the learner's own swapped in;
- ``ablation_arms``: the experiment exercises of notebooks 01, 02 and 06, which train one arm of a
  shipped ablation (``course_lib.ablations``) live;
- ``dalle_transformer``: notebook 10;
- ``diffusion_lessons``: notebooks 11 (diffusion) and 12 (GLIDE);
- ``unclip_imagen``: notebook 13 (DALL·E 2 / unCLIP and Imagen);
- ``open_source``: notebook 14 (VQGAN + CLIP, CLIP guidance, the leaderboard);
- ``harness``: what every check shares (calling the learner's code, comparing, printing the verdict).
"""
from .ablation_arms import gan_arm, text_gan_arm, vqgan_arm
from .autoencoders import grid_validity, interpolate, mse_loss, pair_mistakes, sample_with_temperature, vae_loss
from .bart_translation import decoder_inputs, my_top_k, next_code_probs, temperature_study
from .clip_ranking import my_relevance, rank_scores, recall_at_1, zero_shot
from .dalle_mini_pipeline import draw_by_hand, guidance_study, pipeline_accuracy, pipeline_part, ranker, tiny_pipeline
from .dalle_transformer import column_mask, keep_top, one_stream
from .diffusion_lessons import caption_dropout, ddim_step, predicted_x0, put_back
from .gans import (attribute_accuracy, colour_shape_size_coverage, plain_conditional_loss, saturating_generator_loss,
                   shuffled_accuracy, truncated_samples)
from .harness import NOT_DONE
from .open_source import my_fooled, my_guided_eps, my_ranking
from .shapes_world import count_colours, read_rate, scene_by_hand
from .unclip_imagen import my_dynamic_threshold, my_swap_kind, prior_loss
from .vq_tokenizers import (hinge_loss, my_adaptive_weight, my_perplexity, restart_dead_codes, round_trip, token_budget,
                            vq_layer)

__all__ = [
    "NOT_DONE",
    # notebook 00
    "count_colours", "scene_by_hand", "read_rate",
    # notebooks 01-02
    "saturating_generator_loss", "colour_shape_size_coverage", "truncated_samples",
    "plain_conditional_loss", "attribute_accuracy", "shuffled_accuracy",
    # notebooks 03-04
    "interpolate", "grid_validity", "mse_loss", "vae_loss", "sample_with_temperature", "pair_mistakes",
    # notebooks 05-06
    "my_perplexity", "vq_layer", "token_budget", "restart_dead_codes", "hinge_loss", "my_adaptive_weight", "round_trip",
    # notebooks 07-08
    "my_top_k", "next_code_probs", "decoder_inputs", "temperature_study",
    "zero_shot", "rank_scores", "my_relevance", "recall_at_1",
    # notebook 09
    "ranker", "draw_by_hand", "guidance_study", "pipeline_accuracy", "pipeline_part", "tiny_pipeline",
    # experiments of notebooks 01, 02 and 06: one arm of a shipped ablation
    "gan_arm", "text_gan_arm", "vqgan_arm",
    # notebook 10
    "one_stream", "column_mask", "keep_top",
    # notebooks 11-12
    "predicted_x0", "ddim_step", "caption_dropout", "put_back",
    # notebook 13
    "prior_loss", "my_dynamic_threshold", "my_swap_kind",
    # notebook 14
    "my_fooled", "my_guided_eps", "my_ranking",
]
