"""``srnbench``: the rate-distortion benchmark of sirencodec against image-codec anchors.

Modules: :mod:`.codecs` (the codecs compared), :mod:`.sweeps` (named sweeps and thesis
experiments), :mod:`.run` (the sweep runner, results.csv / summary.json, resume),
:mod:`.bdrate` (Bjøntegaard deltas), :mod:`.metrics` (PSNR, SSIM), :mod:`.plot`
(matplotlib plots, optional) and :mod:`.cli` (the command line).
"""
