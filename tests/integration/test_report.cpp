// `kforge report`: the queries on a real store (written through the Store API with known numbers, and by a
// real `kforge bench`), leaderboard.md and results.csv line by line, results.json against
// docs/results-schema.md, and the command line's exit codes.
#include "agent/journal.h"
#include "core/error.h"
#include "core/files.h"
#include "output_patterns.h"
#include "report_fixture.h"
#include "reports/format.h"
#include "reports/report.h"
#include "support.h"

#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace kforge {
namespace {

using testing::LinePattern;
using testing::Match;
using testing::match_lines;
using testing::ReportStore;
using testing::run_kforge;

TEST(OutputPatterns, FailWhenALineDoesNotMatch) {
  EXPECT_EQ(match_lines("a\nb 1.50x, 3.2 ms\n", {{Match::next, "a"}, {Match::next, "b %speedup, %time"}}), "");
  EXPECT_NE(match_lines("a\nc\nb\n", {{Match::next, "a"}, {Match::next, "b"}}), "") << "next means the next line";
  EXPECT_EQ(match_lines("a\nc\nb\n", {{Match::next, "a"}, {Match::later, "b"}}), "");
  EXPECT_NE(match_lines("a\n", {{Match::next, "a"}, {Match::later, "b"}}), "") << "running out of lines fails";
  EXPECT_NE(match_lines("a 1.5\n", {{Match::next, "a %int"}}), "") << "placeholders are strict";
  EXPECT_NE(match_lines("xa\n", {{Match::next, "a"}}), "") << "a pattern matches the whole line";
}

class Report : public testing::TempDir {
 protected:
  void SetUp() override {
    TempDir::SetUp();
    m_db = dir() / "kforge.db";
    ReportStore store(m_db);
    m_parent = store.parent_of_best();
    m_best_relu = store.best_relu();
    const Database db(m_db, true);
    m_results = load_results(db);
    m_options.out_dir = dir() / "site";
    m_options.store_file = "kforge.db";
    m_options.generated_at = "2025-01-31T12:00:00Z";
    m_options.kforge_version = "test";
  }

  [[nodiscard]] const ModelScore& model(const std::string& group) const {
    for (const auto& m : m_results.contexts.at(0).models)
      if (m.group == group) return m;
    throw std::runtime_error("no model " + group);
  }

  [[nodiscard]] const TaskBoard& board(const std::string& task) const {
    for (const auto& b : m_results.boards)
      if (m_results.tasks[b.task].name == task) return b;
    throw std::runtime_error("no board " + task);
  }

  std::filesystem::path m_db;
  Results m_results;
  ReportOptions m_options;
  int64_t m_parent = 0;
  int64_t m_best_relu = 0;
};

TEST_F(Report, QueriesFindTheBestCorrectUnflaggedKernelPerBoard) {
  ASSERT_EQ(m_results.contexts.size(), 1u);
  ASSERT_EQ(m_results.boards.size(), 3u);
  EXPECT_EQ(m_results.evaluations, 10);
  const auto best_of = [&](const std::string& task) {
    const TaskBoard& b = board(task);
    return b.best ? m_results.kernel_of(b.kernels[*b.best]).group : std::string("none");
  };
  EXPECT_EQ(best_of("relu"), "openai:gpt-test");
  EXPECT_EQ(best_of("matmul"), "baseline:openblas");
  EXPECT_EQ(best_of("softmax"), "reference") << "a suspicious 30x kernel is shown, never ranked";
  const TaskBoard& softmax = board("softmax");
  ASSERT_EQ(softmax.kernels.size(), 2u);
  EXPECT_TRUE(softmax.kernels[1].correct);
  EXPECT_FALSE(softmax.kernels[1].ranked);
  EXPECT_EQ(softmax.kernels[1].flags, std::vector<std::string>{"suspicious"});
  // relu: ranked fastest first, then the failures.
  const TaskBoard& relu = board("relu");
  std::vector<std::string> order;
  for (const auto& r : relu.kernels) order.push_back(m_results.kernel_of(r).group + ":" + r.status);
  EXPECT_EQ(order, (std::vector<std::string>{"openai:gpt-test:ok", "human:ok", "reference:ok",
                                             "anthropic:claude-test:compile_error", "openai:gpt-test:incorrect"}));
  ASSERT_TRUE(relu.reference.has_value());
  EXPECT_EQ(m_results.kernel_of(relu.kernels[*relu.reference]).origin, "reference");
  EXPECT_EQ(relu.kernels[3].message, testing::k_hostile_message);
}

TEST_F(Report, ModelScoresCountFastPOverAllTasksOfTheDevice) {
  const auto& gpt = model("openai:gpt-test");
  EXPECT_EQ(gpt.tasks_total, 3);
  EXPECT_EQ(gpt.tasks_attempted, 2);
  EXPECT_EQ(gpt.fast_p_tasks, (std::vector<int64_t>{1, 1, 1, 1})) << "the flagged softmax kernel does not count";
  EXPECT_NEAR(gpt.fast_p[0], 1.0 / 3, 1e-12);
  EXPECT_NEAR(*gpt.geomean_speedup, 2.5, 1e-9);
  EXPECT_NEAR(*gpt.pass_rate, 2.0 / 3, 1e-12) << "2 of its 3 kernels are correct (the flagged one is correct)";
  EXPECT_FALSE(gpt.cost_usd.has_value());
  EXPECT_FALSE(gpt.cost_per_fast_1_task.has_value()) << "unknown until LLM calls are stored";

  const auto& human = model("human");
  EXPECT_EQ(human.fast_p_tasks, (std::vector<int64_t>{1, 1, 1, 0})) << "1.6x is above 1.5 but not 2";
  const auto& claude = model("anthropic:claude-test");
  EXPECT_EQ(claude.fast_p_tasks, (std::vector<int64_t>{1, 0, 0, 0})) << "0.8x solves but is not fast_1";
  EXPECT_NEAR(*claude.pass_rate, 0.5, 1e-12);
  EXPECT_NEAR(*claude.geomean_speedup, 0.8, 1e-9);
  const auto& reference = model("reference");
  EXPECT_EQ(reference.fast_p_tasks, (std::vector<int64_t>{3, 0, 0, 0})) << "the reference is never faster than itself";
  EXPECT_EQ(model("baseline:openblas").fast_p_tasks, (std::vector<int64_t>{1, 1, 1, 1}));

  std::vector<std::string> order;
  for (const auto& m : m_results.contexts[0].models) order.push_back(m.group);
  EXPECT_EQ(order, (std::vector<std::string>{"baseline:openblas", "openai:gpt-test", "human", "reference",
                                             "anthropic:claude-test"}));
}

TEST_F(Report, ModelCostComesFromItsSessionsLlmCalls) {
  {
    Store store(m_db);
    agent::Journal journal(store);
    Statement device(store.database(), "SELECT id FROM devices");
    ASSERT_TRUE(device.step());
    const int64_t session =
        journal.begin_session("relu", 0, "cpu", device.column_int(0), "openai:gpt-test", "refine", {});
    for (double dollars : {0.25, 0.5}) {
      agent::CallRecord call;
      call.provider = "openai";
      call.model = "gpt-test";
      call.cache_key = "key";
      call.request = nlohmann::json::object();
      call.response.ok = true;
      call.cost_usd = dollars;
      journal.record_call(session, call);
    }
  }
  const Database db(m_db, true);
  const Results results = load_results(db);
  const ModelScore* gpt = nullptr;
  for (const auto& m : results.contexts[0].models)
    if (m.group == "openai:gpt-test") gpt = &m;
  ASSERT_NE(gpt, nullptr);
  ASSERT_TRUE(gpt->cost_usd.has_value());
  EXPECT_NEAR(*gpt->cost_usd, 0.75, 1e-12);
  EXPECT_NEAR(gpt->cost_per_fast_1_task.value_or(0), 0.75, 1e-12) << "one fast_1 task for $0.75";
  ASSERT_EQ(results.sessions.size(), 1u);
  EXPECT_EQ(results.sessions[0].model, "openai:gpt-test");
  EXPECT_EQ(results.sessions[0].calls, 2);
  EXPECT_NEAR(results.sessions[0].cost_usd, 0.75, 1e-12);
  EXPECT_EQ(results.sessions[0].status, "running");
}

TEST_F(Report, CategorySummariesUseEachTasksBestKernel) {
  const auto& categories = m_results.contexts[0].categories;
  ASSERT_EQ(categories.size(), 2u);
  EXPECT_EQ(categories[0].category, "activation");
  EXPECT_EQ(categories[0].tasks, 2);
  EXPECT_EQ(categories[0].tasks_solved, 2);
  EXPECT_EQ(categories[0].tasks_beating_reference, 1);
  EXPECT_NEAR(*categories[0].geomean_best_speedup, std::sqrt(2.5), 1e-9);
  EXPECT_EQ(categories[1].category, "matmul");
  EXPECT_NEAR(*categories[1].geomean_best_speedup, 90.0, 1e-9);
  ASSERT_TRUE(categories[1].mean_best_sol_fraction.has_value());
}

TEST_F(Report, KernelHistoryFollowsParentsAndListsEvaluations) {
  const auto best = m_results.find_kernel(m_best_relu);
  ASSERT_TRUE(best.has_value());
  const auto lineage = kernel_lineage(m_results, *best);
  ASSERT_EQ(lineage.size(), 1u);
  EXPECT_EQ(m_results.kernels[lineage[0]].id, m_parent);
  EXPECT_TRUE(kernel_lineage(m_results, lineage[0]).empty());
  const auto evaluations = kernel_evaluations(m_results, lineage[0]);
  ASSERT_EQ(evaluations.size(), 1u);
  EXPECT_EQ(m_results.boards[evaluations[0].first].kernels[evaluations[0].second].status, "incorrect");

  // A cycle (a corrupt store) ends the chain instead of looping.
  {
    Database raw(m_db);
    raw.exec("UPDATE kernels SET parent_id = " + std::to_string(m_best_relu) +
             " WHERE id = " + std::to_string(m_parent));
  }
  const Database db(m_db, true);
  const Results cyclic = load_results(db);
  EXPECT_EQ(kernel_lineage(cyclic, *cyclic.find_kernel(m_best_relu)).size(), 1u);
}

TEST_F(Report, LeaderboardMarkdownLineByLine) {
  const std::string md = markdown_leaderboard(m_results, m_options);
  const std::string error = match_lines(
      md,
      {
          {Match::next, "# kforge leaderboard"},
          {Match::next, ""},
          {Match::next,
           "Generated by kforge test from `kforge.db` at %date: 3 task versions, 10 kernels, 10 "
           "evaluations on 1 device\\."},
          {Match::next, ""},
          {Match::next, "## Test CPU &lt;fast&gt; &amp; co \\(cpu\\), cold timing"},
          {Match::next, ""},
          {Match::next,
           "Device `testfingerprint0`: x86-64-v3, 8 compute units, peak 1 TFLOP/s f32 "
           "\\(estimated\\), 50 GB/s memory bandwidth \\(measured\\)\\."},
          {Match::later, "### Models"},
          {Match::later,
           "\\| model \\| tasks \\| fast_0 vs eager \\| fast_1 vs eager \\| fast_1\\.5 vs eager \\| fast_2 vs eager "
           "\\| "
           "geomean vs eager \\| fast_1 vs eager or compile \\| fast_1 vs reference \\| geomean vs reference \\| "
           "pass rate \\| cost per fast_1 task \\|"},
          {Match::next, "\\|( ---:?){1} \\|( ---: \\|){11}"},
          // No torch baseline in this store: every figure against PyTorch is unknown, the reference's stand.
          {Match::next,
           "\\| baseline:openblas \\| 1/3 \\|( %dash \\|){6} 33\\.3% \\| 90\\.00x \\| 100\\.0% \\| %dash \\|"},
          {Match::next, "\\| openai:gpt-test \\| 2/3 \\|( %dash \\|){6} 33\\.3% \\| 2\\.50x \\| 66\\.7% \\| %dash \\|"},
          {Match::next, "\\| human \\| 1/3 \\|( %dash \\|){6} 33\\.3% \\| 1\\.60x \\| 100\\.0% \\| %dash \\|"},
          {Match::next, "\\| reference \\| 3/3 \\|( %dash \\|){6} 0\\.0% \\| 1\\.00x \\| 100\\.0% \\| %dash \\|"},
          {Match::next,
           "\\| anthropic:claude-test \\| 2/3 \\|( %dash \\|){6} 0\\.0% \\| 0\\.80x \\| 50\\.0% \\| %dash \\|"},
          {Match::next, ""},
          {Match::next, "### Best kernel per task"},
          {Match::next, ""},
          {Match::next,
           "\\| task \\| version \\| category \\| best kernel \\| median \\| speedup \\| vs torch \\| speed of light "
           "\\| kernels \\|"},
          {Match::next, "\\| --- \\| ---: \\| --- \\| --- \\| ---: \\| ---: \\| ---: \\| ---: \\| ---: \\|"},
          {Match::next,
           "\\| `matmul` \\| 1 \\| matmul \\| baseline:openblas `openblas\\.cpp` \\| %time \\| 90\\.00x \\| %dash \\| "
           "%percent \\| 3 \\|"},
          {Match::next,
           "\\| `relu` \\| 1 \\| activation \\| openai:gpt-test `%hash` \\| 3\\.2 ms \\| 2\\.50x \\| %dash \\| "
           "%percent \\| 5 \\|"},
          {Match::next,
           "\\| `softmax` \\| 1 \\| activation \\| reference `cpu\\.cpp` \\| 50 ms \\| 1\\.00x \\| %dash \\| "
           "%percent \\| 2 \\|"},
      });
  EXPECT_EQ(error, "");
}

// Every table in a Markdown document: a header, a separator of ---/---: cells, rows of the same width, and
// no unescaped | inside a cell.
void expect_clean_markdown_tables(const std::string& md) {
  std::istringstream in(md);
  std::vector<std::string> table;
  int tables = 0;
  auto cells = [](const std::string& line) {
    int count = 0;
    for (size_t i = 1; i < line.size(); ++i)
      if (line[i] == '|' && line[i - 1] != '\\') ++count;
    return count;  // the leading | is not counted: cells = separators after it
  };
  auto check = [&] {
    if (table.empty()) return;
    ++tables;
    ASSERT_GE(table.size(), 3u) << table[0];
    EXPECT_TRUE(std::regex_match(table[1], std::regex("\\|( ---:? \\|)+"))) << table[1];
    for (const auto& line : table) EXPECT_EQ(cells(line), cells(table[0])) << line;
    table.clear();
  };
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '|') {
      EXPECT_EQ(line.back(), '|') << line;
      table.push_back(line);
    } else {
      check();
    }
  }
  check();
  EXPECT_GE(tables, 2);
}

TEST_F(Report, LeaderboardMarkdownTablesAreWellFormed) {
  expect_clean_markdown_tables(markdown_leaderboard(m_results, m_options));
}

// Splits one CSV record (RFC 4180, no newlines inside fields in these rows).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

TEST_F(Report, ResultsCsvLineByLine) {
  const std::string csv = results_csv(m_results);
  const std::string row = "Test CPU <fast> & co,testfingerprint0,cold,";
  const std::string timed = "%float,%float,%float,%float,%float,%float,%float,%int,%float,";
  const std::string error = match_lines(
      csv,
      {
          {Match::next,
           "device,device_fingerprint,timing_mode,task,task_version,spec_hash,category,level,rank,best,"
           "kernel_hash,group,origin,model,path,parent_hash,shape,status,flags,correct,ranked,median_ns,mean_ns,"
           "min_ns,max_ns,q1_ns,q3_ns,rel_stdev,samples,reference_median_ns,speedup,vs_torch,flops,bytes,sol_time_ns,"
           "sol_fraction,stop_reason,message"},
          {Match::next, row +
                            "matmul,1,%hash,matmul,1,1,true,%hash,baseline:openblas,baseline,,"
                            "reference_kernels/matmul/openblas\\.cpp,,bench,ok,,true,true," +
                            timed + "90,,%float,%float,%float,%float,converged,"},
          {Match::next, row +
                            "matmul,1,%hash,matmul,1,2,false,%hash,reference,reference,,"
                            "reference_kernels/matmul/cpu\\.cpp,,bench,ok,,true,true," +
                            timed + "1,,%float,%float,%float,%float,converged,"},
          {Match::next, row +
                            "matmul,1,%hash,matmul,1,3,false,%hash,anthropic:claude-test,agent,"
                            "anthropic:claude-test,,,bench,ok,,true,true," +
                            timed + "0\\.8,,%float,%float,%float,%float,converged,"},
          {Match::next, row +
                            "relu,1,%hash,activation,1,1,true,%hash,openai:gpt-test,agent,openai:gpt-test,,"
                            "%hash,bench,ok,,true,true," +
                            timed + "2\\.5,,%float,%float,%float,%float,converged,"},
          {Match::later, row + "relu,1,%hash,activation,1,,false,%hash,anthropic:claude-test,agent,"
                               "anthropic:claude-test,,,bench,compile_error,,false,false,,,,,,,,,,,,,,,,,"
                               "\"compile error: expected ';' before '<' token & \"\"more\"\", sadly\""},
          {Match::next, row + "relu,1,%hash,activation,1,,false,%hash,openai:gpt-test,agent,openai:gpt-test,,"
                              ",bench,incorrect,,false,false,,,,,,,,,,,,,,,,,\"y: 12 of 1000003 elements "
                              "mismatch, first at \\[7\\]: expected 1 got 0\""},
          {Match::next, row +
                            "softmax,1,%hash,activation,1,1,true,%hash,reference,reference,,"
                            "reference_kernels/softmax/cpu\\.cpp,,bench,ok,,true,true," +
                            timed + "1,,%float,%float,%float,%float,converged,"},
          {Match::next, row +
                            "softmax,1,%hash,activation,1,,false,%hash,openai:gpt-test,agent,"
                            "openai:gpt-test,,,bench,ok,suspicious,true,false," +
                            timed + "30,,%float,%float,%float,%float,converged,"},
      });
  EXPECT_EQ(error, "");
  // Every record has the header's width, and the quoted message reads back intact.
  std::istringstream in(csv);
  std::string header;
  std::getline(in, header);
  const size_t width = csv_cells(header).size();
  size_t records = 0;
  for (std::string line; std::getline(in, line); ++records) {
    const auto cells = csv_cells(line);
    ASSERT_EQ(cells.size(), width) << line;
    if (cells[17] == "compile_error") {
      EXPECT_EQ(cells.back(), testing::k_hostile_message);
    }
  }
  EXPECT_EQ(records, 10u);
}

// The documented keys and types of every object in results.json, read from docs/results-schema.md: headings
// "### `$.path`" followed by rows "| `key` | type | meaning |".
std::map<std::string, std::map<std::string, std::string>> documented_schema() {
  const std::string doc = read_file(testing::source_dir() / "docs" / "results-schema.md");
  std::map<std::string, std::map<std::string, std::string>> objects;
  std::istringstream in(doc);
  std::string current;
  const std::regex heading("### `(\\$[^`]*)`");
  const std::regex row("\\| `([^`]+)` \\| ([a-z|\\\\]+) \\| .*\\|");
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, m, heading)) {
      current = m[1];
      objects[current];
    } else if (line.rfind("## ", 0) == 0) {
      current.clear();
    } else if (!current.empty() && std::regex_match(line, m, row)) {
      std::string type = m[2];
      type.erase(std::remove(type.begin(), type.end(), '\\'), type.end());
      objects[current][m[1]] = type;
    }
  }
  return objects;
}

bool has_type(const nlohmann::ordered_json& value, const std::string& documented) {
  std::istringstream types(documented);
  for (std::string type; std::getline(types, type, '|');) {
    if (type == "null" && value.is_null()) return true;
    if (type == "string" && value.is_string()) return true;
    if (type == "integer" && value.is_number_integer()) return true;
    if (type == "number" && value.is_number()) return true;
    if (type == "boolean" && value.is_boolean()) return true;
    if (type == "array" && value.is_array()) return true;
    if (type == "object" && value.is_object()) return true;
  }
  return false;
}

// Every object reached by `path` ("$.contexts[].models[]") from `root`.
void collect(const nlohmann::ordered_json& node, const std::string& path,
             std::vector<const nlohmann::ordered_json*>& out) {
  if (path.empty()) {
    out.push_back(&node);
    return;
  }
  size_t end = path.find('.', 1);
  std::string part = path.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  const std::string rest = end == std::string::npos ? "" : path.substr(end);
  const bool each = part.size() > 2 && part.substr(part.size() - 2) == "[]";
  if (each) part.resize(part.size() - 2);
  if (!node.is_object() || !node.contains(part)) return;
  if (each) {
    for (const auto& item : node[part]) collect(item, rest, out);
  } else {
    collect(node[part], rest, out);
  }
}

TEST_F(Report, ResultsJsonHasExactlyTheDocumentedKeys) {
  const auto schema = documented_schema();
  ASSERT_GE(schema.size(), 12u) << "the schema document lost its tables";
  // The store with imported tasks too: every documented object (a task's source, a suite's scores) is there.
  const auto imported_db = dir() / "imported.db";
  { ReportStore store(imported_db, true); }
  const Results results = load_results(Database(imported_db, true));
  const auto json = nlohmann::ordered_json::parse(results_json(results, m_options).dump());
  EXPECT_EQ(json["schema"], "kforge.results");
  EXPECT_EQ(json["schema_version"], k_results_schema_version);
  for (const auto& [path, keys] : schema) {
    std::vector<const nlohmann::ordered_json*> objects;
    collect(json, path.substr(1), objects);
    ASSERT_FALSE(objects.empty()) << path << " is documented but absent";
    for (const auto* object : objects) {
      if (object->is_null()) continue;  // an optional object (a task's source), documented as object|null
      ASSERT_TRUE(object->is_object()) << path;
      std::set<std::string> seen;
      for (const auto& [key, value] : object->items()) {
        seen.insert(key);
        const auto documented = keys.find(key);
        ASSERT_NE(documented, keys.end()) << path << "." << key << " is not documented in docs/results-schema.md";
        EXPECT_TRUE(has_type(value, documented->second))
            << path << "." << key << " is " << value.dump() << ", documented as " << documented->second;
      }
      for (const auto& [key, type] : keys) EXPECT_TRUE(seen.contains(key)) << path << "." << key << " is missing";
    }
  }
  // Nested objects the document does not describe key by key are only the per-dtype peak map.
  nlohmann::ordered_json board;
  for (const auto& b : json["contexts"][0]["boards"])
    if (b["task"] == "relu") board = b;
  ASSERT_TRUE(board.is_object());
  EXPECT_EQ(board["kernels"][0]["parent_hash"], board["kernels"][4]["kernel_hash"]);
  EXPECT_EQ(board["best"], board["kernels"][0]["kernel_hash"]);
  EXPECT_TRUE(board["kernels"][3]["rank"].is_null());
  EXPECT_TRUE(json["contexts"][0]["models"][0]["cost_per_fast_1_task"].is_null());
}

// An imported suite is scored per level against PyTorch eager, as the suite defines fast_p, and a task the
// importer left out is in no denominator but listed, with its reason, on the suite's page.
TEST_F(Report, ImportedSuitesAreScoredPerLevelAgainstPyTorchEager) {
  const auto imported_db = dir() / "imported.db";
  { ReportStore store(imported_db, true); }
  const Results results = load_results(Database(imported_db, true));
  ASSERT_EQ(results.contexts.size(), 1u);
  const auto& suites = results.contexts[0].suites;
  ASSERT_EQ(suites.size(), 1u);
  EXPECT_EQ(suites[0].suite, "kernelbench");
  EXPECT_EQ(suites[0].group, "level 1");
  ASSERT_EQ(suites[0].boards.size(), 1u) << "kb2_66_dropout is left out: no board, no denominator";
  const ModelScore* gpt = nullptr;
  for (const auto& m : suites[0].models)
    if (m.group == "openai:gpt-test") gpt = &m;
  ASSERT_NE(gpt, nullptr);
  EXPECT_EQ(gpt->tasks_with_torch, 1);
  EXPECT_DOUBLE_EQ(gpt->fast_p_vs_torch[1], 1.0) << "3x over the reference, 1.5x over eager's 2x";
  EXPECT_DOUBLE_EQ(gpt->fast_p_vs_torch[3], 0.0) << "not 2x faster than eager";
  const auto pages = html_pages(results, m_options);
  const auto page =
      std::find_if(pages.begin(), pages.end(), [](const OutputFile& f) { return f.path == "suites/kernelbench.html"; });
  ASSERT_NE(page, pages.end());
  EXPECT_NE(page->content.find("kb2_66_dropout"), std::string::npos);
  EXPECT_NE(page->content.find("random: the same inputs give different outputs"), std::string::npos);
  EXPECT_NE(page->content.find("KernelBench level 1"), std::string::npos);
  EXPECT_NE(pages.front().content.find("suites/kernelbench.html"), std::string::npos) << "linked from the index";
  // The index's first chart is fast_p against PyTorch eager, captioned so; the one against the reference comes
  // after it, named as kforge's own.
  const std::string& index = pages.front().content;
  const size_t first = index.find("<figure");
  ASSERT_NE(first, std::string::npos);
  const std::string figure = index.substr(first, index.find("</figure>", first) - first);
  EXPECT_NE(figure.find("fast_p against PyTorch eager"), std::string::npos) << figure;
  EXPECT_NE(figure.find("<figcaption>fast_p against PyTorch eager, as KernelBench defines it"), std::string::npos)
      << figure;
  const size_t reference = index.find("fast_p against kforge&#39;s reference");
  ASSERT_NE(reference, std::string::npos) << "escaped as the page escapes it";
  EXPECT_GT(reference, first);
}

TEST_F(Report, CliWritesOnlyTheFormatsAskedFor) {
  const auto out = dir() / "md-csv";
  const auto result = run_kforge("report --db '" + m_db.string() + "' --out '" + out.string() + "' --format md,csv");
  ASSERT_EQ(result.status.exit_code, 0) << result.output;
  EXPECT_TRUE(std::regex_search(result.output, std::regex("wrote 2 files to .*: leaderboard\\.md, results\\.csv\\n")))
      << result.output;
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out))
    files.insert(std::filesystem::relative(entry.path(), out).string());
  EXPECT_EQ(files, (std::set<std::string>{"leaderboard.md", "results.csv"}));

  const auto all = dir() / "all";
  const auto full = run_kforge("report --json --db '" + m_db.string() + "' --out '" + all.string() + "'");
  ASSERT_EQ(full.status.exit_code, 0) << full.output;
  const auto listed = nlohmann::json::parse(full.output)["files"].get<std::vector<std::string>>();
  for (const char* file :
       {"index.html", "leaderboard.md", "results.json", "results.csv", "tasks/relu-v1.html", "tasks/softmax-v1.html",
        "tasks/matmul-v1.html", "models/openai-gpt-test.html", "models/baseline-openblas.html", "models/reference.html",
        "models/human.html", "models/anthropic-claude-test.html"}) {
    EXPECT_TRUE(std::find(listed.begin(), listed.end(), file) != listed.end()) << file;
    EXPECT_TRUE(std::filesystem::is_regular_file(all / file)) << file;
  }
  EXPECT_EQ(listed.size(), 12u);
}

TEST_F(Report, CliErrorsAreOneLineWithTheRightExitCode) {
  const std::string db = "--db '" + m_db.string() + "' ";
  const auto out = " --out '" + (dir() / "out").string() + "'";
  auto check = [](const CommandResult& r, int code, const std::string& says) {
    EXPECT_EQ(r.status.exit_code, code) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << r.output;
  };
  check(run_kforge("report " + db + out + " --format html,pdf"), 2, "unknown format 'pdf'");
  check(run_kforge("report --db '" + (dir() / "missing.db").string() + "'" + out), 2, "no such database");
  EXPECT_EQ(run_kforge("report " + db).status.exit_code, 2) << "--out is required";
  {
    Database foreign(dir() / "foreign.db");
    foreign.exec("CREATE TABLE customers (id INTEGER)");
  }
  check(run_kforge("report --db '" + (dir() / "foreign.db").string() + "'" + out), 3, "not a kforge store");
  std::ofstream(dir() / "a-file") << "in the way";
  check(run_kforge("report " + db + " --out '" + (dir() / "a-file").string() + "'"), 3, "cannot create");
}

TEST_F(Report, PagesEscapeSourcesAndReferenceNothingOutside) {
  const auto pages = html_pages(m_results, m_options);
  ASSERT_EQ(pages.size(), 1u + 3u + 5u) << "index, a page per task, a page per model";
  const std::regex external(
      "(src|href|action)\\s*=\\s*[\"']?\\s*(https?:)?//|url\\(|@import|<link|<script|<img|"
      "<iframe|<object|<embed",
      std::regex::icase);
  for (const auto& page : pages) {
    EXPECT_FALSE(std::regex_search(page.content, external)) << page.path << " refers to something outside itself";
    EXPECT_NE(page.content.find("<meta name=\"viewport\""), std::string::npos) << page.path;
    EXPECT_NE(page.content.find("@media print"), std::string::npos) << page.path;
  }
  const auto relu =
      std::find_if(pages.begin(), pages.end(), [](const auto& p) { return p.path == "tasks/relu-v1.html"; });
  ASSERT_NE(relu, pages.end());
  // The hostile source is not a featured kernel's, but its message is in the table; the best's source is.
  EXPECT_NE(relu->content.find("expected &#39;;&#39; before &#39;&lt;&#39; token &amp; &quot;more&quot;"),
            std::string::npos);
  EXPECT_NE(relu->content.find("// gpt&#39;s second try"), std::string::npos) << "the best kernel's source is shown";
  EXPECT_NE(relu->content.find("Lineage:"), std::string::npos) << "the best kernel's parent chain is shown";
  // Statuses are words as well as colours.
  EXPECT_NE(relu->content.find("\u2717 compile_error</span>"), std::string::npos);
  EXPECT_NE(relu->content.find("\u2713 ok</span>"), std::string::npos);
  // Device names are escaped everywhere.
  for (const auto& page : pages) EXPECT_EQ(page.content.find("<fast>"), std::string::npos) << page.path;
  // The claude model page lists the hostile kernel, escaped, with no raw markup from it.
  const auto claude = std::find_if(pages.begin(), pages.end(),
                                   [](const auto& p) { return p.path == "models/anthropic-claude-test.html"; });
  ASSERT_NE(claude, pages.end());
  EXPECT_EQ(claude->content.find("<script"), std::string::npos);
}

TEST_F(Report, SourcesOfEveryFeaturedKernelAreEscaped) {
  // Make the hostile kernel the relu board's best: now its source is on the page.
  {
    Database raw(m_db);
    raw.exec(
        "UPDATE evaluations SET status = 'ok', message = '', time_median_ns = 1e6, speedup = 8, "
        "sol_fraction = 0.5 WHERE message LIKE 'compile error:%'");
  }
  const Database db(m_db, true);
  const Results results = load_results(db);
  const auto pages = html_pages(results, m_options);
  const auto relu =
      std::find_if(pages.begin(), pages.end(), [](const auto& p) { return p.path == "tasks/relu-v1.html"; });
  ASSERT_NE(relu, pages.end());
  EXPECT_NE(relu->content.find(html_escape(testing::k_hostile_source)), std::string::npos);
  EXPECT_EQ(relu->content.find("<script"), std::string::npos);
  EXPECT_EQ(relu->content.find("</code></pre><script>"), std::string::npos);
}

// A real store: `kforge bench` on two small tasks (the quickest pair to benchmark), then `kforge report` on it.
TEST(ReportFromBench, RealBenchStoreGivesASiteAndATable) {
  const auto dir = std::filesystem::temp_directory_path() / ("kforge-report-bench-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto db = dir / "kforge.db";
  const auto bench = run_kforge("bench --no-torch --tasks relu,softmax --max-time 0.3 --db '" + db.string() + "'");
  ASSERT_EQ(bench.status.exit_code, 0) << bench.output;
  const auto report = run_kforge("report --db '" + db.string() + "' --out '" + (dir / "site").string() + "'");
  ASSERT_EQ(report.status.exit_code, 0) << report.output;
  EXPECT_TRUE(
      std::regex_search(report.output, std::regex("wrote 7 files to .*: index\\.html, leaderboard\\.md, "
                                                  "results\\.json, results\\.csv, 2 task pages, 1 model page\\n")))
      << report.output;

  const std::string md = read_file(dir / "site" / "leaderboard.md");
  const std::string error = match_lines(
      md,
      {
          {Match::next, "# kforge leaderboard"},
          {Match::later,
           "Generated by kforge [0-9.]+ from `.*kforge\\.db` at %date: 2 task versions, 2 kernels, "
           "2 evaluations on 1 device\\."},
          {Match::later, "## .* \\(cpu\\), cold timing"},
          {Match::later,
           "Device `%hash`: .*, %int compute units, peak .*FLOP/s f32 \\(estimated\\), .*B/s memory "
           "bandwidth \\(measured\\)\\."},
          {Match::later, "\\| model \\| tasks \\| fast_0 .*"},
          {Match::next, "\\| --- .*"},
          // A bench with --no-torch: every figure against PyTorch eager is unknown.
          {Match::next, "\\| reference \\| 2/2 \\|( %dash \\|){6} 0\\.0% \\| 1\\.00x \\| 100\\.0% \\| %dash \\|"},
          {Match::later, "\\| task \\| version \\| category \\| best kernel .*"},
          {Match::next, "\\| --- .*"},
          {Match::next,
           "\\| `relu` \\| 1 \\| activation \\| reference `cpu\\.cpp` \\| %time \\| 1\\.00x \\| %dash \\| %percent \\| "
           "1 "
           "\\|"},
          {Match::next,
           "\\| `softmax` \\| 1 \\| activation \\| reference `cpu\\.cpp` \\| %time \\| 1\\.00x \\| %dash \\| "
           "%percent \\| 1 \\|"},
      });
  EXPECT_EQ(error, "");
  expect_clean_markdown_tables(md);

  const auto json = nlohmann::json::parse(read_file(dir / "site" / "results.json"));
  ASSERT_EQ(json["contexts"].size(), 1u);
  const auto& boards = json["contexts"][0]["boards"];
  ASSERT_EQ(boards.size(), 2u);
  for (const auto& board : boards) {
    EXPECT_EQ(board["best"], board["reference"]);
    const auto& shape = board["kernels"][0]["shapes"][0];
    EXPECT_GT(shape["median_ns"].get<double>(), 0);
    EXPECT_GT(shape["samples"].get<int>(), 0);
    EXPECT_GT(shape["sol_fraction"].get<double>(), 0) << "the CPU has peaks, so every timing has a sol_fraction";
  }
  const std::string csv = read_file(dir / "site" / "results.csv");
  EXPECT_EQ(match_lines(csv, {{Match::next, "device,device_fingerprint,.*,message"},
                              {Match::next,
                               ".*,%hash,cold,relu,1,%hash,activation,1,1,true,%hash,reference,reference,,"
                               ".*reference_kernels/relu/cpu\\.cpp,,bench,ok,,true,true,%float,.*"},
                              {Match::next,
                               ".*,%hash,cold,softmax,1,%hash,activation,1,1,true,%hash,reference,"
                               "reference,,.*reference_kernels/softmax/cpu\\.cpp,,bench,ok,,true,true,%float,.*"}}),
            "");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kforge
