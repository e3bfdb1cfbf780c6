"""Finding the problems in a KernelBench or MultiKernelBench checkout (a suite folder, one level or category
folder, or one file), and what kforge calls each: its task name, category and level."""
import os
import re


def slug(text):
    """The suite's file name made a task name part: lowercased, runs of other characters one '_', no '_' at
    either end (`1_Square_matrix_multiplication_` -> `1_square_matrix_multiplication`)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


KB_FILE = re.compile(r"^(\d+)_.+\.py$")
KB_LEVEL = re.compile(r"^level(\d+)$")


def discover(suite, path):
    """(file, group, name) for every problem under `path`: group is the KernelBench level (an int) or the
    MultiKernelBench category (a string)."""
    path = os.path.abspath(path)
    found = []
    if suite == "kernelbench":
        def level_of(folder):
            match = KB_LEVEL.match(os.path.basename(folder))
            return int(match.group(1)) if match else None

        def add_level(folder, level):
            for entry in sorted(os.listdir(folder)):
                if KB_FILE.match(entry) and os.path.isfile(os.path.join(folder, entry)):
                    found.append((os.path.join(folder, entry), level, "kb%d_%s" % (level, slug(entry[:-3]))))

        if os.path.isfile(path):
            level = level_of(os.path.dirname(path))
            if level is None or not KB_FILE.match(os.path.basename(path)):
                raise SystemExit("%s: a KernelBench problem is levelN/<number>_<name>.py" % path)
            found.append((path, level, "kb%d_%s" % (level, slug(os.path.basename(path)[:-3]))))
        elif level_of(path) is not None:
            add_level(path, level_of(path))
        else:
            for entry in sorted(os.listdir(path)):
                if level_of(entry) is not None and os.path.isdir(os.path.join(path, entry)):
                    add_level(os.path.join(path, entry), level_of(entry))
            if not found:
                raise SystemExit("%s: no level1..level4 folders of KernelBench problems here" % path)
    else:
        def add_category(folder):
            category = os.path.basename(folder)
            for entry in sorted(os.listdir(folder)):
                if entry.endswith(".py") and not entry.startswith("_") and os.path.isfile(os.path.join(folder, entry)):
                    found.append((os.path.join(folder, entry), category,
                                  "mkb_%s_%s" % (slug(category), slug(entry[:-3]))))

        if os.path.isfile(path):
            category = os.path.basename(os.path.dirname(path))
            found.append((path, category, "mkb_%s_%s" % (slug(category), slug(os.path.basename(path)[:-3]))))
        elif any(e.endswith(".py") for e in os.listdir(path)):
            add_category(path)
        else:
            for entry in sorted(os.listdir(path)):
                if os.path.isdir(os.path.join(path, entry)) and not entry.startswith((".", "_")):
                    add_category(os.path.join(path, entry))
            if not found:
                raise SystemExit("%s: no category folders of MultiKernelBench problems here" % path)
    return found


def suite_root(suite, path):
    """The folder a problem's recorded file name is relative to (KernelBench/, reference/)."""
    path = os.path.abspath(path)
    if os.path.isfile(path):
        path = os.path.dirname(path)
    if suite == "kernelbench":
        return os.path.dirname(path) if KB_LEVEL.match(os.path.basename(path)) else path
    return path if not any(e.endswith(".py") for e in os.listdir(path)) else os.path.dirname(path)


# kforge's categories (core/task.cpp), chosen from a KernelBench file name; MultiKernelBench names its own.
CATEGORY_WORDS = [
    ("attention", r"attention|attn|gpt|transformer|selfattn"),
    ("loss", r"loss|entropy|kldiv|hinge|huber"),
    ("convolution", r"conv"),
    ("pooling", r"pool"),
    ("normalization", r"norm"),
    ("matmul", r"matmul|matrix_mul|gemm|bmm|matvec|linear|matrix_vector|einsum"),
    ("activation", r"softmax|relu|gelu|sigmoid|tanh|swish|selu|elu|softplus|softsign|mish|silu|hardswish"),
    ("reduce", r"reduction|argmax|argmin|cumsum|cumprod|sum_|mean_|max_|min_|_sum|_mean|prod"),
    ("broadcast", r"scalar|broadcast|bias_add"),
    ("resize", r"upsample|interpolate|resize|pixel_shuffle"),
    ("index", r"gather|scatter|index|embedding|mask"),
]
KFORGE_CATEGORIES = {"activation", "attention", "broadcast", "convolution", "fuse", "index", "loss", "math",
                     "matmul", "normalization", "optimizer", "pooling", "reduce", "resize"}


def category_for(suite, group, name):
    if suite == "multikernelbench":
        return group if group in KFORGE_CATEGORIES else "fuse"  # arch: a whole network
    words = name.split("_", 2)[-1]
    if group >= 2:
        return "attention" if re.search(CATEGORY_WORDS[0][1], words) else "fuse"
    for category, pattern in CATEGORY_WORDS:
        if re.search(pattern, words):
            return category
    return "math"


def level_for(suite, group):
    """kforge's level (1 a single op, 2 fused ops, 3 a block of a model)."""
    if suite == "kernelbench":
        return min(group, 3)
    return {"arch": 3, "fuse": 2}.get(group, 1)
