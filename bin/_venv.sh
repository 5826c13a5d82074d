# Sourced by bin/demo and bin/test with EXTRAS set ("" or "[dev]"): make sure $VENV exists and
# holds the project as pyproject.toml pins it. Reinstalls only when pyproject.toml or EXTRAS
# changed, so a second run starts in seconds.
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$( (cat pyproject.toml; echo "$EXTRAS") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$EXTRAS"
    rm -f "$VENV"/.installed-* && touch "$stamp"
fi
