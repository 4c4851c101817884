"""HealthSync's machine learning: architectures, data loading, preprocessing, training,
evaluation, Grad-CAM, model cards and the serving predictor.

Plain Python: nothing here imports Django (the ``imaging`` app uses this package, never
the reverse), and TensorFlow is imported inside the functions that need it so that
importing ``ml_models`` stays cheap for web processes that never run a model.
"""
