"""``srnbench``: the rate-distortion benchmark of sirencodec's codecs against image-codec anchors.

Modules: :mod:`.codecs` (the codecs compared: JPEG, WebP, JPEG 2000, AVIF through Pillow, and
sirencodec's latent and SIREN codecs), :mod:`.sweeps` (the standard sweep and the thesis
experiments), :mod:`.run` (the sweep runner: results.csv / summary.json, resume),
:mod:`.bdrate` (Bjøntegaard deltas), :mod:`.plot` (matplotlib plots, optional),
:mod:`.report` (the run's README) and :mod:`.cli` (the command line).
"""
