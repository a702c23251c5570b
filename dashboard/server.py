"""``python -m dashboard.server ARGS``: ``streamlit ARGS`` that never looks itself up.

Streamlit guesses the machine's addresses for its start banner and for its
WebSocket-origin check: a UDP ``connect`` towards 8.8.8.8 and an HTTP request to
checkip.amazonaws.com. callqa promises no outbound traffic at all, so both
guesses answer "unknown" before Streamlit starts; a deployment behind a reverse
proxy keeps the browser's Origin equal to the Host it forwards (see the README).
"""

from __future__ import annotations

import sys

from streamlit import net_util


def _unknown() -> None:
    return None


def main() -> None:
    net_util.get_internal_ip = _unknown
    net_util.get_external_ip = _unknown
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
