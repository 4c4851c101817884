"""TensorFlow's C++ start-up logging drowns command output; commands import this first."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
