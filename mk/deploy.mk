# Deployment checks with the real tools (docs/OPERATIONS.md): hadolint on the Dockerfile, the image recipe in
# a fresh virtualenv, the entry point, nginx, systemd-analyze, logrotate, blue/green and several replicas.
# The Debian tools are installed only when missing; -s shows the figures the tests print.
DEPLOY_TOOLS := nginx:nginx-light logrotate:logrotate systemd-analyze:systemd openssl:openssl curl:curl \
	shellcheck:shellcheck

.PHONY: test-deploy deploy-tools

deploy-tools:
	@missing=""; for pair in $(DEPLOY_TOOLS); do \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "==> installing$$missing"; \
		apt-get install -y $$missing >/dev/null || { apt-get update >/dev/null && apt-get install -y $$missing >/dev/null; }; \
	fi

test-deploy: install-dev deploy-tools
	$(BIN)/python scripts/security_audit.py
	PATH="$$PATH:/usr/sbin:/sbin" $(BIN)/pytest -q -s -m deploy

EXTRA_TESTS += test-deploy
