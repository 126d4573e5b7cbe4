"""End-to-end tests: real frontends (JupyterLab in headless Chromium) against real kernels."""
