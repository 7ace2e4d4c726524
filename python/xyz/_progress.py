"""Progress of a run: tqdm (its notebook widget in Jupyter) when installed, else a line on
stderr redrawn in place."""

import sys


class _Bar:
    def __init__(self):
        self._bar = None
        self._done = 0

    def start(self, total):
        try:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="case")
        except ImportError:
            self._bar = None

        def progress(done):
            if self._bar is not None:
                self._bar.update(done - self._done)
            else:
                print(f"\r{done} cases done", end="", file=sys.stderr, flush=True)
            self._done = done

        return progress

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self._done:
            print(file=sys.stderr)


def progress_bar(progbar):
    """A progress bar if ``progbar`` asks for one, else ``None``."""
    return _Bar() if progbar else None
