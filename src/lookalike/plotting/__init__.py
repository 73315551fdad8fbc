"""Figures for densities and samples. matplotlib is imported only when a function runs.

Every function takes an optional matplotlib ``ax`` (or ``axes`` for two-panel figures) and
returns what it drew on, so figures compose: draw several plots into one ``plt.subplots`` grid,
then save or show the figure yourself. One module per figure family:

- :func:`plot_digits` (``digits``): flattened images (e.g. 8x8 digits) as a grid, real
  beside generated; :func:`digit_mosaic` builds the image.
- :func:`plot_mixture` (``mixture``): points coloured by component and the 1-, 2-, 3-sigma
  ellipses of a Gaussian mixture in two chosen features.
- :func:`plot_criterion` (``search``): BIC / AIC / cross-validated log-likelihood curves of
  a model search.
- :func:`plot_density_1d` (``density``): histogram of 1-D data, the fitted density and
  synthetic samples.
- :func:`plot_real_vs_synthetic` (``compare``): real and synthetic scatter plots on
  identical axes.
"""

from lookalike.plotting.compare import plot_real_vs_synthetic
from lookalike.plotting.density import plot_density_1d
from lookalike.plotting.digits import digit_mosaic, plot_digits
from lookalike.plotting.mixture import plot_mixture
from lookalike.plotting.search import plot_criterion

__all__ = [
    "digit_mosaic",
    "plot_criterion",
    "plot_density_1d",
    "plot_digits",
    "plot_mixture",
    "plot_real_vs_synthetic",
]
