// A small valid task, as JSON, for tests to mutate.
#pragma once

#include <nlohmann/json.hpp>

namespace kforge::testing {

inline nlohmann::json valid_task_json() {
  return nlohmann::json::parse(R"({
    "name": "scale_rows",
    "version": 2,
    "category": "broadcast",
    "level": 1,
    "description": "y[b, i] = x[b, i] * alpha for a contiguous row-major matrix.",
    "inputs": [{"name": "x", "dtype": "f32", "shape": ["B", "N"], "init": {"dist": "normal", "mean": 0, "std": 1}},
               {"name": "idx", "dtype": "i64", "shape": ["N"], "init": {"dist": "randint", "low": 0, "high": 5}}],
    "outputs": [{"name": "y", "dtype": "f32", "shape": ["B", "N // 2 + 1"]}],
    "params": [{"name": "alpha", "type": "float", "value": 2.5}, {"name": "k", "type": "int", "value": 3}],
    "shapes": [{"label": "small", "role": "check", "dims": {"B": 3, "N": 7}},
               {"label": "big", "role": "bench", "dims": {"B": 64, "N": 1024}, "params": {"k": 5}}],
    "flops": "B * N",
    "bytes": "4 * B * N * k"
  })");
}

}  // namespace kforge::testing
