# Prometheus rules (config/prometheus/, docs/METRICS.md) checked and unit-tested by the real promtool.
# The Debian `prometheus` package brings promtool; it is installed only when promtool is missing.
.PHONY: test-promtool promtool-tool

promtool-tool:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "==> installing prometheus (for promtool)"; \
		apt-get install -y --no-install-recommends prometheus >/dev/null \
			|| { apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }; \
	}

test-promtool: install promtool-tool
	promtool check rules config/prometheus/*.yml
	promtool check config config/prometheus/scrape/prometheus.yml
	promtool test rules config/prometheus/tests/rules_test.yml
	$(BIN)/python -m json.tool config/grafana/control-plane.json >/dev/null

EXTRA_TESTS += test-promtool
