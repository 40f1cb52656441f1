"""Reference PyTorch kernels for the labs: vectorized, CPU and CUDA, each tested against its specification."""
