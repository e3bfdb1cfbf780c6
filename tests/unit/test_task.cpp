#include "core/error.h"
#include "core/task.h"
#include "task_fixture.h"
#include "verifier/cascade.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

namespace kforge {
namespace {

using nlohmann::json;

TEST(Task, ParsesAndResolvesAValidTask) {
  const Task task = parse_task(testing::valid_task_json(), "tasks/broadcast/scale_rows.json");
  EXPECT_EQ(task.name, "scale_rows");
  EXPECT_EQ(task.version, 2);
  ASSERT_EQ(task.inputs.size(), 2u);
  EXPECT_EQ(task.inputs[1].dtype, DType::i64);
  EXPECT_EQ(task.inputs[1].init.dist, InitSpec::Dist::randint);
  EXPECT_EQ(task.spec_hash.size(), 64u);
  const Problem big = resolve_problem(task, *task.find_shape("big"));
  EXPECT_EQ(big.output_shapes[0], (std::vector<int64_t>{64, 513}));
  EXPECT_DOUBLE_EQ(big.bytes, 4.0 * 64 * 1024 * 5);  // the size set overrides k
  ASSERT_EQ(big.params.size(), 2u);
  EXPECT_EQ(big.params[0].first, "alpha");
  EXPECT_DOUBLE_EQ(big.params[0].second, 2.5);
  EXPECT_DOUBLE_EQ(big.params[1].second, 5);
  // Without a tolerance field each output gets its dtype's default.
  EXPECT_DOUBLE_EQ(task.tolerance_for(task.outputs[0]).rtol, 1e-4);
}

TEST(Task, SpecHashChangesWithTheSpec) {
  json changed = testing::valid_task_json();
  changed["description"] = "y[b, i] = x[b, i] * alpha, for a contiguous row-major matrix.";
  EXPECT_NE(parse_task(testing::valid_task_json(), "scale_rows.json").spec_hash,
            parse_task(changed, "scale_rows.json").spec_hash);
}

struct BadCase {
  const char* what;
  std::function<void(json&)> mutate;
  const char* path;     // must appear in the message
  const char* problem;  // must appear in the message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.what; }

// $.source of an imported task (kforge import), valid.
json imported_source() {
  return json::parse(R"({"suite": "kernelbench", "file": "level1/19_ReLU.py", "level": 1, "importer": 1,
                         "sha256": "d2a80a306dbcfa4864a36e5326a442642248ded191c3ec3a86f421ab73f350bd"})");
}

class MalformedTask : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedTask, IsRefusedNamingFileAndField) {
  json task = testing::valid_task_json();
  GetParam().mutate(task);
  try {
    (void)parse_task(task, "tasks/broadcast/scale_rows.json");
    FAIL() << "accepted: " << GetParam().what;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_EQ(message.rfind("tasks/broadcast/scale_rows.json: ", 0), 0u) << message;
    EXPECT_NE(message.find(GetParam().path), std::string::npos) << message;
    EXPECT_NE(message.find(GetParam().problem), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Task, MalformedTask,
    ::testing::Values(
        BadCase{"missing field", [](json& t) { t.erase("flops"); }, "$", "missing required field 'flops'"},
        BadCase{"unknown dtype", [](json& t) { t["inputs"][1]["dtype"] = "f33"; }, "$.inputs[1].dtype",
                "unknown dtype 'f33'"},
        BadCase{"unknown dim", [](json& t) { t["outputs"][0]["shape"][1] = "Q"; }, "$.shapes[0].dims",
                "missing dim 'Q'"},
        BadCase{"name differs from file", [](json& t) { t["name"] = "other"; }, "$.name", "differs from the file name"},
        BadCase{"bad category", [](json& t) { t["category"] = "misc"; }, "$.category", "unknown category"},
        BadCase{"level out of range", [](json& t) { t["level"] = 4; }, "$.level", "must be 1, 2 or 3"},
        BadCase{"version not an integer", [](json& t) { t["version"] = "1"; }, "$.version", "expected an integer"},
        BadCase{"no bench shape", [](json& t) { t["shapes"].erase(1); }, "$.shapes", "role 'bench'"},
        BadCase{"zero dim", [](json& t) { t["shapes"][0]["dims"]["B"] = 0; }, "$.shapes[0].dims.B", "positive integer"},
        BadCase{"dim no tensor uses", [](json& t) { t["shapes"][0]["dims"]["Z"] = 3; }, "$.shapes[0].dims.Z",
                "no tensor shape uses"},
        BadCase{"misspelt field", [](json& t) { t["tolerence"] = json::object(); }, "$.tolerence", "unknown field"},
        BadCase{"a role without a source", [](json& t) { t["inputs"][0]["role"] = "forward"; }, "$.inputs[0].role",
                "only an imported task"},
        BadCase{"unknown role",
                [](json& t) {
                  t["source"] = imported_source();
                  t["inputs"][0]["role"] = "weight";
                },
                "$.inputs[0].role", "unknown role 'weight'"},
        BadCase{"unknown suite",
                [](json& t) {
                  t["source"] = imported_source();
                  t["source"]["suite"] = "tritonbench";
                },
                "$.source.suite", "unknown suite"},
        BadCase{"short source hash",
                [](json& t) {
                  t["source"] = imported_source();
                  t["source"]["sha256"] = "abc";
                },
                "$.source.sha256", "64 lowercase hex"},
        BadCase{"KernelBench source without a level",
                [](json& t) {
                  t["source"] = imported_source();
                  t["source"].erase("level");
                },
                "$.source", "missing required field 'level'"},
        BadCase{"a note that is no string",
                [](json& t) {
                  t["source"] = imported_source();
                  t["source"]["notes"] = {1};
                },
                "$.source.notes[0]", "expected a string"},
        BadCase{"bad distribution", [](json& t) { t["inputs"][0]["init"]["dist"] = "gauss"; }, "$.inputs[0].init.dist",
                "unknown distribution"},
        BadCase{"randint without high", [](json& t) { t["inputs"][1]["init"].erase("high"); }, "$.inputs[1].init",
                "needs 'high'"},
        BadCase{"bad expression", [](json& t) { t["bytes"] = "4 * (B"; }, "$.bytes", "expected ')'"},
        BadCase{"flops names an unknown", [](json& t) { t["flops"] = "B * Q"; }, "$.flops", "'Q'"},
        BadCase{"unknown param override", [](json& t) { t["shapes"][1]["params"]["beta"] = 1; },
                "$.shapes[1].params.beta", "unknown param"},
        BadCase{"non-integer int param", [](json& t) { t["params"][1]["value"] = 2.5; }, "$.params[1].value",
                "not an integer"},
        BadCase{"duplicate tensor", [](json& t) { t["outputs"][0]["name"] = "x"; }, "$.outputs[0].name",
                "duplicate tensor name"},
        BadCase{"negative tolerance",
                [](json& t) {
                  t["tolerance"] = {{"atol", -1}, {"rtol", 0}};
                },
                "$.tolerance", "must not be negative"},
        BadCase{"backends on a check shape", [](json& t) { t["shapes"][0]["backends"] = {"cuda"}; },
                "$.shapes[0].backends", "only bench size sets"},
        BadCase{"unknown backend",
                [](json& t) {
                  t["shapes"][1]["backends"] = {"cpu", "tpu"};
                },
                "$.shapes[1].backends[1]", "unknown backend 'tpu'"},
        BadCase{"a backend without a bench shape",
                [](json& t) {
                  t["shapes"][1]["backends"] = {"cpu", "cuda"};
                },
                "$.shapes", "for the hip backend"},
        BadCase{"output dim not positive", [](json& t) { t["outputs"][0]["shape"][1] = "N - 7"; }, "shape 'small'",
                "not a positive integer"},
        // Held-out sizes and input domains.
        BadCase{"dims missing a dim", [](json& t) { t["dims"] = {{"B", {{"max", 8}}}}; }, "$.dims", "missing dim 'N'"},
        BadCase{"dims name an unknown dim",
                [](json& t) {
                  t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"max", 9}}}, {"Q", {{"max", 3}}}};
                },
                "$.dims.Q", "no tensor shape uses"},
        BadCase{"dim without max", [](json& t) { t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"min", 2}}}}; }, "$.dims.N",
                "missing required field 'max'"},
        BadCase{"dims depend on each other",
                [](json& t) {
                  t["dims"] = {{"B", {{"max", "N"}}}, {"N", {{"max", "2 * B"}}}};
                },
                "$.dims", "depends on itself"},
        BadCase{"range names an unknown",
                [](json& t) {
                  t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"max", "Q"}}}};
                },
                "$.dims.N.max", "names 'Q'"},
        BadCase{"equals beside bounds",
                [](json& t) {
                  t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"equals", "B"}, {"max", 9}}}};
                },
                "$.dims.N", "'equals' ties"},
        BadCase{"check set above max", [](json& t) { t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"max", 5}}}}; },
                "$.shapes[0].dims", "dim 'N' = 7 lies outside its range [1, 5]"},
        BadCase{"check set not a multiple",
                [](json& t) {
                  t["dims"] = {{"B", {{"max", 8}}}, {"N", {{"max", 99}, {"multiple_of", 2}}}};
                },
                "$.shapes[0].dims", "not a multiple of 2"},
        BadCase{"domain of an unknown input",
                [](json& t) {
                  t["domains"] = json::array({{{"name", "wide"}, {"inputs", {{"z", {{"dist", "normal"}}}}}}});
                },
                "$.domains[0].inputs.z", "no input is called 'z'"},
        BadCase{"domain with a bad distribution",
                [](json& t) {
                  t["domains"] = json::array({{{"name", "wide"}, {"inputs", {{"x", {{"dist", "gauss"}}}}}}});
                },
                "$.domains[0].inputs.x.dist", "unknown distribution"},
        BadCase{"duplicate domain",
                [](json& t) {
                  const json domain = {{"name", "wide"}, {"inputs", {{"x", {{"dist", "normal"}, {"std", 9}}}}}};
                  t["domains"] = json::array({domain, domain});
                },
                "$.domains[1].name", "duplicate domain 'wide'"}),
    [](const auto& info) {
      std::string name = info.param.what;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(Task, AnImportedTaskKeepsItsSourceAndInputRoles) {
  json spec = testing::valid_task_json();
  spec["source"] = imported_source();
  spec["source"]["operators"] = {"relu"};
  spec["source"]["excluded"] = "random: live dropout";
  spec["inputs"][0]["role"] = "forward";
  spec["inputs"][1]["role"] = "parameter";
  const Task task = parse_task(spec, "tasks/broadcast/scale_rows.json");
  ASSERT_TRUE(task.source.has_value());
  EXPECT_EQ(task.source->group(), "KernelBench level 1");
  EXPECT_EQ(task.source->excluded, "random: live dropout");
  EXPECT_EQ(task.source->oracle, "float64");
  EXPECT_EQ(task.inputs[1].role, "parameter");
  EXPECT_EQ(task_work(task).operators, std::vector<std::string>{"relu"}) << "a single op's operator is its work";
  json other = spec;
  other["source"]["sha256"] = std::string(64, 'e');
  EXPECT_NE(parse_task(other, "tasks/broadcast/scale_rows.json").spec_hash, task.spec_hash)
      << "a changed problem file is another task";
}

TEST(Task, BenchShapesCanBeLimitedToSomeBackends) {
  json spec = testing::valid_task_json();
  spec["shapes"][1]["backends"] = {"cpu"};
  spec["shapes"].push_back(
      {{"label", "gpu"}, {"role", "bench"}, {"backends", {"cuda", "hip"}}, {"dims", {{"B", 4096}, {"N", 4096}}}});
  const Task task = parse_task(spec, "tasks/broadcast/scale_rows.json");
  const ShapeSet& cpu_only = *task.find_shape("big");
  const ShapeSet& gpu_only = *task.find_shape("gpu");
  EXPECT_TRUE(cpu_only.applies_to("cpu"));
  EXPECT_FALSE(cpu_only.applies_to("cuda"));
  EXPECT_TRUE(gpu_only.applies_to("hip"));
  EXPECT_FALSE(gpu_only.applies_to("cpu"));
  EXPECT_TRUE(task.find_shape("small")->applies_to("cuda")) << "check sizes apply everywhere";
}

TEST(Task, LoadNamesTheFileOnBadJson) {
  const auto file = std::filesystem::temp_directory_path() / "kforge_bad_json.json";
  { std::ofstream(file) << "{\"name\": \"kforge_bad_json\", "; }
  try {
    (void)load_task(file);
    FAIL() << "bad JSON accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ": $: invalid JSON"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

// Found by fuzzing (tests/fuzz/fuzz_task.cpp): error messages quoted the offending value with json::dump, which
// recurses once per level, so a deeply nested file overflowed the stack.
TEST(Task, DeeplyNestedJsonIsRefusedWithoutQuotingIt) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  try {
    (void)parse_task(json::parse(deep), "deep.json");
    FAIL() << "accepted an array";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_EQ(std::string(e.what()), "deep.json: $: expected an object, got an array");
  }
  json task = testing::valid_task_json();
  task["version"] = json::parse(deep);
  EXPECT_THROW((void)parse_task(task, "tasks/broadcast/scale_rows.json"), Error);
}

// Found by fuzzing (tests/fuzz/fuzz_task.cpp): a size set whose tensor had more bytes than int64 holds made
// numel() overflow, undefined behaviour and, in practice, a wrapped buffer size.
TEST(Task, TensorWhoseSizeOverflowsIsRefused) {
  json task = testing::valid_task_json();
  task["shapes"][1]["dims"] = {{"B", 9000000000000000}, {"N", 1000000}};
  try {
    (void)parse_task(task, "tasks/broadcast/scale_rows.json");
    FAIL() << "accepted a tensor of 9e21 elements";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("shape 'big': tensor 'x' is too large"), std::string::npos) << e.what();
  }
  task["shapes"][1]["dims"] = {{"B", 1 << 20}, {"N", 1 << 20}};  // 2^40 elements, 4 TiB: absurd, but it fits
  EXPECT_NO_THROW((void)parse_task(task, "tasks/broadcast/scale_rows.json"));
}

}  // namespace
}  // namespace kforge
