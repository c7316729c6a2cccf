# The two commands of the README. Everything else is reachable from them.
.PHONY: serve test

# Set up, export the site's model (export/site_model.py: the default checkpoint with the committed
# think/tools adapter), build the site and serve it with COOP/COEP headers.
serve:
	scripts/bootstrap.sh
	.venv/bin/python -m export --site
	.venv/bin/python -m site_plugins.serve

# Set up (including chromium) and run every test.
test:
	scripts/bootstrap.sh --browser
	.venv/bin/python -m pytest
