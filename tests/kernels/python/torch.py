# Planted beside the Python test kernels: were this folder on a kernel's sys.path, `import torch` would load
# this file and every Python kernel here would fail. kforge runs kernels isolated (no script folder on
# sys.path), so none ever imports it.
raise ImportError("kforge test: the torch.py planted beside the kernel was imported")
