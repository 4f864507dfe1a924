"""The SIREN codec (format version 3): a sine MLP overfitted to the pixel grid, pruned with
Automated Gradual Pruning, trained quantization-aware to integer weights.

* ``network``, ``grid`` - its image in numpy (the decoder's math) and the coordinate grid;
* ``config`` - ``FitConfig`` and the presets;
* ``model`` (torch), ``prune`` (AGP), ``quant`` (QAT and export), ``allocate`` (per-layer steps),
  ``fit`` (the fit -> prune -> QAT pipeline);
* ``encode`` - one fixed network to a file; ``ratecontrol`` - ``--quality``, ``--target-bpp``,
  ``--target-psnr``, which size the network to the image.

Importing this package imports nothing; ``network`` and ``grid`` need numpy only.
"""
