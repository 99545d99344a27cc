"""Run one of the hand-written baselines with Keras on JAX: the same script, only KERAS_BACKEND
differs (the JAX-backend twin the benchmark times dlrun --backend jax against).

    python bench/scripts/jax_twin.py iris_kfold_keras.py
    python bench/scripts/jax_twin.py synthetic_keras.py bench/data/synthetic.npz
"""

import os
import runpy
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
script = Path(__file__).with_name(sys.argv[1])
sys.argv = [str(script), *sys.argv[2:]]
runpy.run_path(str(script), run_name="__main__")
