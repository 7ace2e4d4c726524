"""Type stubs of the native part of the module, ``xyz._xyz``."""

from os import PathLike
from typing import Any, Callable, Optional, Sequence, Union

__version__: str

class XyzError(Exception): ...
class SpecError(XyzError): ...
class FunctionError(XyzError): ...
class DatasetError(XyzError): ...
class CropError(XyzError): ...
class SchedulerError(XyzError): ...
class ExecutorError(XyzError): ...

_Path = Union[str, PathLike[str]]
_Executor = tuple[Callable[..., bytes], tuple[Any, ...]]
_Parts = dict[str, Any]

class Function:
    def __init__(
        self,
        source: Union[_Path, bytes],
        worker: _Path,
        memory: Union[int, str, None] = None,
        deadline: Union[float, str, None] = None,
        isolate: bool = True,
    ) -> None: ...
    @property
    def signature(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def args(self) -> list[str]: ...
    @property
    def outputs(self) -> list[str]: ...
    @property
    def sha256(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def bytes(self) -> bytes: ...
    @property
    def memory(self) -> Optional[int]: ...
    @property
    def deadline(self) -> Optional[float]: ...
    @property
    def isolate(self) -> bool: ...

def run(
    function: Function,
    spec: dict[str, Any],
    base: _Path,
    threads: int = 0,
    executor: Optional[_Executor] = None,
    progress: Optional[Callable[[int], None]] = None,
    on_cancel: Optional[Callable[[], None]] = None,
) -> tuple[_Parts, dict[str, Any]]: ...
def harvest(
    function: Function,
    spec: dict[str, Any],
    base: _Path,
    into: _Path,
    threads: int = 0,
    executor: Optional[_Executor] = None,
    progress: Optional[Callable[[int], None]] = None,
    on_cancel: Optional[Callable[[], None]] = None,
    recompute: bool = False,
    retry_failed: bool = False,
    overwrite: bool = False,
    keep_existing: bool = False,
    waiting: Optional[Callable[[str], None]] = None,
) -> dict[str, Any]: ...
def read(path: _Path) -> _Parts: ...
def evaluate(
    call: bytes,
    bytes: bytes,
    sha256: str,
    worker: _Path,
    memory: Optional[int] = None,
    deadline: Optional[float] = None,
    isolate: bool = True,
) -> bytes: ...
def locate(name: str, parent: Optional[_Path] = None) -> str: ...
def sow(
    function: Function,
    spec: dict[str, Any],
    base: _Path,
    name: Optional[str],
    parent: _Path,
    batchsize: Optional[int] = None,
    num_batches: Optional[int] = None,
    into: Optional[_Path] = None,
    force: bool = False,
) -> str: ...
def status(dir: _Path) -> str: ...
def missing(dir: _Path) -> list[int]: ...
def function_path(dir: _Path) -> str: ...
def grow(
    dir: _Path,
    worker: _Path,
    batches: Optional[Sequence[int]] = None,
    threads: int = 0,
    executor: Optional[_Executor] = None,
    progress: Optional[Callable[[int], None]] = None,
    on_cancel: Optional[Callable[[], None]] = None,
    raise_errors: bool = False,
) -> tuple[int, int, int]: ...
def reap(dir: _Path, allow_incomplete: bool = False, keep: bool = False) -> tuple[_Parts, bool]: ...
def dataset(dir: _Path, partial: bool = False) -> _Parts: ...
def submit(
    dir: _Path,
    scheduler: str,
    xyz: _Path,
    time: Optional[str] = None,
    mem: Union[int, str, None] = None,
    cpus: int = 1,
    throttle: Optional[int] = None,
    workers: Optional[int] = None,
    lease: str = "2m",
    options: Sequence[str] = (),
    setup: Sequence[str] = (),
    max_array: Optional[int] = None,
    dry_run: bool = False,
) -> str: ...
