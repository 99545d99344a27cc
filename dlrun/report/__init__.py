"""Reports: metrics computed with scikit-learn, plots (matplotlib Agg), console renderables."""
