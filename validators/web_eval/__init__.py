"""Web evaluation: the deployed app's pages and flows checked in a real browser (Playwright + Chromium)."""
