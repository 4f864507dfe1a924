"""The latent-grid codec (format version 4, the default; after Cool-chic and C3): integer latent
grids range-coded with an integer autoregressive model, upsampled and mixed per pixel by a
small synthesis network.

* ``synthesis`` - its image in numpy (the decoder's math);
* ``config`` - ``LatentConfig``;
* ``model`` (torch), ``fit`` (training for MSE + lam * bpp), ``export`` (the file's
  description, each layer's bit width chosen on real files);
* ``encode`` - one rate weight to a file; ``ratecontrol`` - ``--quality``, ``--target-bpp``,
  ``--target-psnr``, which choose the rate weight; ``choice`` - ``--effort best``, which
  trains several networks and keeps each image's best file.

Importing this package imports nothing; ``synthesis`` and ``config`` need numpy only.
"""
