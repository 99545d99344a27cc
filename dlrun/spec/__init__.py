"""The experiment spec: pydantic models, YAML loading with locations, `extends:`, `--set`.

Never imports TensorFlow, so `dlrun validate` answers at once.
"""

from dlrun.spec.load import LoadedSpec, load_spec
from dlrun.spec.models import ExperimentSpec

__all__ = ["ExperimentSpec", "LoadedSpec", "load_spec"]
