"""``bwsim serve``: the local web app (sim.web) under uvicorn. FastAPI, uvicorn and the app are
imported when the command runs, so ``bwsim --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import command, err, fail


@command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this computer only)"),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="port"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1,
                                          help="processes for the replications (default: all cores)"),
    scenarios: Path = typer.Option(Path("scenarios/haarlem"), "--scenarios",
                                   help="folder of scenario YAML files (and verdeel settings) to offer"),
    cache: Path = typer.Option(Path("results/web"), "--cache", help="folder of cached results"),
    queue: int = typer.Option(4, "--queue", min=1, max=100, help="runs that may wait or run at once; more are refused"),
    calibration: Path = typer.Option(Path("calibration/haarlem/results"), "--calibration",
                                     help="results of bwsim calibrate, for the calibration page"),
    rolling: Optional[Path] = typer.Option(None, "--rolling", help="results of bwsim validate --rolling, for the "
                                           "forecast-skill table"),
):
    """A web app on this computer: compare scenarios, change policy levers, see the verdeelmodel's gap per
    municipality, without writing YAML.

    Example: bwsim serve --workers 2, then open http://127.0.0.1:8000 in a browser.
    """
    import uvicorn

    from ..experiment.executors import default_workers
    from ..web.app import create_app
    from ..web.catalog import CatalogError

    try:
        app = create_app(scenarios, cache, workers=workers or default_workers(), queue_limit=queue,
                         calibration=calibration, rolling=rolling)
    except CatalogError as exc:
        fail(f"--scenarios {exc}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"note: listening on {host}: anyone who can reach it can run simulations and add scenarios")
    err.print(f"bwsim serve: http://{'[' + host + ']' if ':' in host else host}:{port} (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
