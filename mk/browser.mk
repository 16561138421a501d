# The dashboard in a real headless Chromium (tests/dashboard/test_browser.py, docs/DASHBOARD.md): Debian's
# chromium, installed only when missing (Playwright drives it; no browser is downloaded). Screenshots land in
# tmp/artifacts/dashboard/ (and refresh docs/img/dashboard-*.png with UPDATE_DOC_IMAGES=1).
.PHONY: test-browser browser-tools

browser-tools:
	@command -v chromium >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 || { echo "chromium is missing and apt-get is not available" >&2; exit 1; }; \
		echo "==> installing chromium"; \
		apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }; \
	}

test-browser: install-dev browser-tools
	$(BIN)/pytest -q -m browser

EXTRA_TESTS += test-browser
