"""Progress of a run: tqdm (its notebook widget in Jupyter) when installed, else a line on
stderr redrawn in place."""

import sys


class _Bar:
    def __init__(self):
        self._bar = None
        self._done = 0

    def start(self):
        """The callback a run calls with the cases done and the cases it evaluates in all."""
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None

        def progress(done, total):
            if tqdm is not None:
                if self._bar is None:
                    self._bar = tqdm(total=total, unit="case")
                self._bar.update(done - self._done)
            else:
                print(f"\r{done} of {total} cases done", end="", file=sys.stderr, flush=True)
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
