// kforge slurm's pure parts: quoting, the sbatch scripts, squeue and sacct output, the state of an element.
#include "core/error.h"
#include "core/process.h"
#include "harness/cluster/slurm.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace kforge::slurm {
namespace {

const std::vector<std::string> k_nasty = {
    "plain",       "two words",  "it's",      "\"double\"", "$HOME",  "`id`",          "$(id)",
    "back\\slash", "semi;colon", "star *",    "new\nline",  "'''",    "a'b\"c$d`e\\f", "",
    "--db",        "!history",   "tab\there", "#hash",      "~tilde", "{a,b}",         "x > y"};

std::string run_bash(const std::string& script) {
  const auto result = run_command({"/bin/bash", "-c", script}, std::chrono::seconds(10));
  EXPECT_TRUE(result.status.success()) << result.output;
  return result.output;
}

TEST(SlurmQuote, BashReadsBackEveryNastyString) {
  for (const auto& text : k_nasty) EXPECT_EQ(run_bash("printf %s " + shell_quote(text)), text) << shell_quote(text);
}

TEST(SlurmQuote, SingleQuotesWithEscapedQuote) {
  EXPECT_EQ(shell_quote("abc"), "'abc'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("$x `y`"), "'$x `y`'");
}

TEST(SlurmQuote, SbatchArgumentsQuotedOnlyWhenNeeded) {
  EXPECT_EQ(sbatch_quote("gpu-h100"), "gpu-h100");
  EXPECT_EQ(sbatch_quote("/scratch/me/run_1/logs/shard-%a.out"), "/scratch/me/run_1/logs/shard-%a.out");
  EXPECT_EQ(sbatch_quote("my run"), "\"my run\"");
  EXPECT_EQ(sbatch_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(sbatch_quote("x#y"), "\"x#y\"") << "an unquoted # starts a comment for sbatch";
  EXPECT_EQ(sbatch_quote(""), "\"\"");
}

JobOptions cpu_job() {
  JobOptions job;
  job.job_name = "kforge-bench";
  job.results = "/scratch/me/run 1";
  job.workdir = "/home/me/kforge";
  job.kforge = "/opt/kforge/bin/kforge";
  job.tasks_dir = "/opt/kforge/share/kforge/tasks";
  return job;
}

JobOptions cuda_job() {
  JobOptions job = cpu_job();
  job.backend = "cuda";
  job.gpus = 2;
  job.cpus = 8;
  job.partition = "gpu";
  job.account = "proj42";
  job.time = "2:00:00";
  job.mem = "64G";
  job.sbatch_lines = {"--qos=high", "--constraint=h100"};
  job.setup = {"module load cuda/12.4", "export OMP_PROC_BIND=close"};
  return job;
}

std::vector<std::string> sbatch_lines(const std::string& script) {
  std::vector<std::string> lines;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("#SBATCH", 0) == 0) lines.push_back(line);
  return lines;
}

TEST(SlurmScript, CpuBench) {
  const std::string script = bench_script(cpu_job(), 4, {"--tasks", "relu,softmax", "--max-time", "0.5"});
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u);
  const std::vector<std::string> expected{"#SBATCH --job-name=kforge-bench",
                                          "#SBATCH --array=1-4",
                                          "#SBATCH --output=\"/scratch/me/run 1/logs/shard-%a.out\"",
                                          "#SBATCH --chdir=/home/me/kforge",
                                          "#SBATCH --ntasks=1",
                                          "#SBATCH --cpus-per-task=4"};
  EXPECT_EQ(sbatch_lines(script), expected) << "no gres, partition, account, time or mem on the CPU by default";
  EXPECT_NE(script.find("set -uo pipefail\n"), std::string::npos);
  EXPECT_NE(script.find("\nresults='/scratch/me/run 1'\n"), std::string::npos) << script;
  EXPECT_NE(script.find("'/opt/kforge/bin/kforge' --tasks-dir '/opt/kforge/share/kforge/tasks' bench --backend 'cpu' "
                        "--shard \"$element/4\" --db \"$results/shard-$element.db\" --jobs 4 '--tasks' "
                        "'relu,softmax' '--max-time' '0.5'\n"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find(">\"$results/shard-$element.exit.tmp\""), std::string::npos);
  EXPECT_NE(script.find("if [ \"$code\" -eq 1 ]; then exit 0; fi\nexit \"$code\"\n"), std::string::npos);
}

TEST(SlurmScript, CudaBenchHasGresOptionsExtraLinesAndSetup) {
  const std::string script = bench_script(cuda_job(), 3, {});
  const std::vector<std::string> expected{"#SBATCH --job-name=kforge-bench",
                                          "#SBATCH --array=1-3",
                                          "#SBATCH --output=\"/scratch/me/run 1/logs/shard-%a.out\"",
                                          "#SBATCH --chdir=/home/me/kforge",
                                          "#SBATCH --ntasks=1",
                                          "#SBATCH --cpus-per-task=8",
                                          "#SBATCH --partition=gpu",
                                          "#SBATCH --account=proj42",
                                          "#SBATCH --time=2:00:00",
                                          "#SBATCH --mem=64G",
                                          "#SBATCH --gres=gpu:2",
                                          "#SBATCH --qos=high",
                                          "#SBATCH --constraint=h100"};
  EXPECT_EQ(sbatch_lines(script), expected);
  const auto set = script.find("set -uo pipefail\n");
  const auto setup = script.find("\nmodule load cuda/12.4\nexport OMP_PROC_BIND=close\n");
  const auto run = script.find("bench --backend 'cuda' --shard \"$element/3\"");
  ASSERT_NE(setup, std::string::npos) << script;
  EXPECT_LT(setup, set) << "module and conda set-ups read unset variables: they run before set -u";
  EXPECT_LT(set, run);
  EXPECT_NE(script.find("--jobs 8\n"), std::string::npos) << script;
}

TEST(SlurmScript, HipGetsGresToo) {
  JobOptions job = cpu_job();
  job.backend = "hip";
  EXPECT_NE(bench_script(job, 1, {}).find("#SBATCH --gres=gpu:1\n"), std::string::npos);
}

TEST(SlurmScript, PercentInTheResultsFolderIsNotAnSbatchPattern) {
  JobOptions job = cpu_job();
  job.results = "/scratch/100%/run";
  EXPECT_NE(bench_script(job, 2, {}).find("#SBATCH --output=/scratch/100%%/run/logs/shard-%a.out\n"),
            std::string::npos);
}

TEST(SlurmScript, NastyForwardedArgumentsReachKforgeIntact) {
  JobOptions job = cpu_job();
  job.kforge = "/bin/echo";  // prints what kforge would get
  job.tasks_dir = "/tasks";
  const std::string script = bench_script(job, 1, k_nasty);
  const auto run = script.find("'/bin/echo'");
  const std::string line = script.substr(run, script.find("\ncode=$?") - run);
  // Run the line as the element would, with one argument per line out.
  const std::string out = run_bash("element=1; results=/r; printf '%s\\n' " + line.substr(line.find(' ')));
  std::string expected = "--tasks-dir\n/tasks\nbench\n--backend\ncpu\n--shard\n1/1\n--db\n/r/shard-1.db\n--jobs\n4\n";
  for (const auto& arg : k_nasty) expected += arg + "\n";
  EXPECT_EQ(out, expected);
}

TEST(SlurmScript, BashAcceptsBothScripts) {
  for (const auto& script : {bench_script(cuda_job(), 4, k_nasty), evolve_script(cuda_job(), {"relu", "it's"}, {})}) {
    const auto file = std::filesystem::temp_directory_path() / ("kforge-slurm-syntax-" + std::to_string(getpid()));
    std::ofstream(file) << script;
    const auto result = run_command({"/bin/bash", "-n", file.string()}, std::chrono::seconds(10));
    std::filesystem::remove(file);
    EXPECT_TRUE(result.status.success()) << result.output << script;
  }
}

TEST(SlurmScript, EvolveIndexesTasksByElement) {
  JobOptions job = cpu_job();
  job.job_name = "kforge-evolve";
  const std::string script = evolve_script(job, {"relu", "softmax", "layer_norm"}, {"--model", "openai:gpt-4o"});
  EXPECT_NE(script.find("#SBATCH --array=1-3\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --job-name=kforge-evolve\n"), std::string::npos);
  EXPECT_NE(script.find("\ntasks=([1]='relu' [2]='softmax' [3]='layer_norm')\ntask=${tasks[$element]}\n"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find(" evolve --task \"$task\" --backend 'cpu' --db \"$results/shard-$element.db\" '--model' "
                        "'openai:gpt-4o'\n"),
            std::string::npos)
      << script;
}

// The script run as an element would run it, with a stand-in kforge that exits with `code`.
struct ElementRun {
  int exit_code = -1;
  std::string exit_file;
};

ElementRun run_element(int kforge_code) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("kforge-slurm-element-" + std::to_string(getpid()) + "-" + std::to_string(kforge_code));
  std::filesystem::create_directories(dir);
  const auto fake = dir / "kforge";
  std::ofstream(fake) << "#!/bin/sh\nexit " << kforge_code << "\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  JobOptions job = cpu_job();
  job.results = dir;
  job.kforge = fake;
  std::ofstream(dir / "job.sbatch") << bench_script(job, 2, {});
  const auto result = run_command({"/usr/bin/env", "SLURM_ARRAY_TASK_ID=2", "/bin/bash", (dir / "job.sbatch").string()},
                                  std::chrono::seconds(10));
  ElementRun run{result.status.exit_code, ""};
  std::ifstream in(dir / "shard-2.exit");
  std::getline(in, run.exit_file);
  std::filesystem::remove_all(dir);
  return run;
}

TEST(SlurmScript, ElementRecordsKforgesExitAndFailsOnlyBeyondOne) {
  for (const auto& [kforge_code, element_code] : std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {2, 2}, {130, 130}}) {
    const ElementRun run = run_element(kforge_code);
    EXPECT_EQ(run.exit_code, element_code) << "kforge exit " << kforge_code;
    const auto record = parse_exit_record(run.exit_file);
    ASSERT_TRUE(record) << run.exit_file;
    EXPECT_EQ(record->exit_code, kforge_code);
    EXPECT_FALSE(record->host.empty());
    EXPECT_TRUE(std::regex_match(record->started_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
        << record->started_at;
    EXPECT_FALSE(record->finished_at.empty());
  }
}

TEST(SlurmScript, RefusesWhatTheScriptCannotCarry) {
  auto expect_usage = [](const JobOptions& job, const std::string& named) {
    try {
      check_job_options(job);
      ADD_FAILURE() << "accepted; expected an error naming " << named;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
  };
  EXPECT_NO_THROW(check_job_options(cpu_job()));
  EXPECT_NO_THROW(check_job_options(cuda_job()));
  JobOptions job = cpu_job();
  job.backend = "opencl";
  expect_usage(job, "--backend 'opencl'");
  job = cpu_job();
  job.sbatch_lines = {"--qos=high\nrm -rf ~"};
  expect_usage(job, "--sbatch-line");
  job = cpu_job();
  job.cpus = 0;
  expect_usage(job, "--cpus-per-task 0");
  job = cuda_job();
  job.gpus = 0;
  expect_usage(job, "--gpus-per-node 0");
  job = cpu_job();
  job.gpus = 0;
  EXPECT_NO_THROW(check_job_options(job)) << "the CPU asks for no GPU";
  job = cpu_job();
  job.partition = "a\nb";
  expect_usage(job, "--partition");
}

TEST(SlurmArgs, RefusesManagedOptionsInBothSpellings) {
  const std::vector<ManagedOption> managed{{"--db", "each element writes DIR/shard-I.db"},
                                           {"--shard", "element I runs shard I/N"}};
  EXPECT_NO_THROW(refuse_managed_args({"--tasks", "relu", "--max-time", "1"}, managed, "bench"));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--db", "x.db"}, {"--db=x.db"}, {"--tasks", "relu", "--shard", "1/2"}, {"--shard=1/2"}}) {
    try {
      refuse_managed_args(args, managed, "bench");
      ADD_FAILURE() << args.front() << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find("kforge slurm bench: --"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(refuse_managed_args({"--shards-of-glass"}, managed, "bench")) << "a longer name is another option";
  EXPECT_TRUE(has_option({"--model=openai:x"}, "--model"));
  EXPECT_FALSE(has_option({"--models"}, "--model"));
}

TEST(SlurmTasks, ResolvesNamesAndGlobsInSuiteOrder) {
  const std::vector<std::string> names{"relu", "softmax", "softmax_bf16", "layer_norm"};
  EXPECT_EQ(resolve_tasks(names, {"softmax*", "relu"}), (std::vector<std::string>{"relu", "softmax", "softmax_bf16"}));
  EXPECT_EQ(resolve_tasks(names, {"*"}), names);
  EXPECT_THROW(resolve_tasks(names, {"relu", "sofmax"}), Error);
  EXPECT_THROW(resolve_tasks(names, {}), Error);
}

TEST(SlurmParse, JobIdFromSbatchParsable) {
  EXPECT_EQ(parse_job_id("4242\n"), "4242");
  EXPECT_EQ(parse_job_id("4242;cluster1\n"), "4242");
  EXPECT_EQ(parse_job_id("sbatch: warning: some note\n77\n"), "77");
  EXPECT_EQ(parse_job_id("42"), std::nullopt) << "not a whole line yet";
  EXPECT_EQ(parse_job_id(""), std::nullopt);
  EXPECT_EQ(parse_job_id("sbatch: error: Batch job submission failed: Invalid account\n"), std::nullopt);
}

TEST(SlurmParse, ArrayIndices) {
  EXPECT_EQ(parse_array_indices("4"), (std::vector<int>{4}));
  EXPECT_EQ(parse_array_indices("[5-8,10]"), (std::vector<int>{5, 6, 7, 8, 10}));
  EXPECT_EQ(parse_array_indices("[1-7:2]"), (std::vector<int>{1, 3, 5, 7}));
  EXPECT_EQ(parse_array_indices("[3-5%2]"), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(parse_array_indices("4.batch"), std::vector<int>{});
  EXPECT_EQ(parse_array_indices("[8-5]"), std::vector<int>{});
}

// As `squeue --noheader --array --jobs 7001 --format '%i|%T|%M|%N|%r'` prints a 12-element array: two running,
// one completing, the rest pending (a range squeue did not split yet).
const char* const k_squeue = R"(7001_1|RUNNING|12:03|node017|None
7001_2|RUNNING|1:02:03|node018|None
7001_3|COMPLETING|3:10|node019|None
7001_[5-8,10]|PENDING|0:00||Priority
7001_11|PENDING|0:00||Resources
)";

TEST(SlurmParse, Squeue) {
  const auto entries = parse_squeue(k_squeue, "7001");
  ASSERT_EQ(entries.size(), 9u);
  EXPECT_EQ(entries.at(1).state, "RUNNING");
  EXPECT_EQ(entries.at(1).elapsed, "12:03");
  EXPECT_EQ(entries.at(2).nodes, "node018");
  EXPECT_EQ(entries.at(3).state, "COMPLETING");
  for (int index : {5, 6, 7, 8, 10}) {
    EXPECT_EQ(entries.at(index).state, "PENDING") << index;
    EXPECT_EQ(entries.at(index).reason, "Priority");
  }
  EXPECT_EQ(entries.at(11).reason, "Resources");
  EXPECT_EQ(entries.count(4), 0u);
  EXPECT_TRUE(parse_squeue(k_squeue, "700").empty()) << "another job's id";
  EXPECT_TRUE(parse_squeue("", "7001").empty());
  EXPECT_TRUE(parse_squeue("squeue: error: Invalid user\n", "7001").empty());
}

// As `sacct --noheader --parsable2 --allocations --jobs 7001 --format JobID,State,ExitCode,Elapsed,NodeList`
// prints the same array later, and a requeued element's two tries.
const char* const k_sacct = R"(7001_1|COMPLETED|0:0|00:41:12|node017
7001_2|FAILED|3:0|00:00:09|node018
7001_3|CANCELLED by 1000|0:15|00:03:10|node019
7001_4|TIMEOUT|0:0|02:00:00|node020
7001_5|CANCELLED+|0:9|00:00:00|node021
7001_6|NODE_FAIL|1:0|00:10:00|node022
7001_6|COMPLETED|0:0|00:20:00|node023
7001_[7-8]|PENDING|0:0|00:00:00|None assigned
)";

TEST(SlurmParse, Sacct) {
  const auto entries = parse_sacct(k_sacct, "7001");
  ASSERT_EQ(entries.size(), 8u);
  EXPECT_EQ(entries.at(1).state, "COMPLETED");
  EXPECT_EQ(entries.at(1).elapsed, "00:41:12");
  EXPECT_EQ(entries.at(2).state, "FAILED");
  EXPECT_EQ(entries.at(2).exit_code, "3:0");
  EXPECT_EQ(entries.at(3).state, "CANCELLED");
  EXPECT_EQ(entries.at(4).state, "TIMEOUT");
  EXPECT_EQ(entries.at(5).state, "CANCELLED");
  EXPECT_EQ(entries.at(6).state, "COMPLETED") << "the last try counts";
  EXPECT_EQ(entries.at(6).nodes, "node023");
  EXPECT_EQ(entries.at(7).state, "PENDING");
  EXPECT_EQ(entries.at(8).nodes, "");
  EXPECT_TRUE(parse_sacct("Slurm accounting storage is disabled\n", "7001").empty());
}

TEST(SlurmParse, ExitRecord) {
  const auto record = parse_exit_record(
      R"({"exit_code":1,"host":"node017","started_at":"2025-03-01T10:00:00Z","finished_at":"2025-03-01T11:02:03Z"})");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->exit_code, 1);
  EXPECT_EQ(record->host, "node017");
  EXPECT_FALSE(parse_exit_record(""));
  EXPECT_FALSE(parse_exit_record(R"({"exit_code":"x"})"));
  EXPECT_FALSE(parse_exit_record(R"({"exit_code":0,"host":"node)")) << "cut short";
}

TEST(SlurmStatus, ElapsedAsSqueuePrintsIt) {
  EXPECT_EQ(format_elapsed(7), "0:07");
  EXPECT_EQ(format_elapsed(723), "12:03");
  EXPECT_EQ(format_elapsed(3723), "1:02:03");
  EXPECT_EQ(format_elapsed(2 * 86400 + 3723), "2-01:02:03");
}

TEST(SlurmStatus, SqueueThenExitFileThenSacct) {
  const QueueEntry running{"RUNNING", "5:00", "node017", "None"};
  const QueueEntry pending{"PENDING", "0:00", "", "Priority"};
  const ExitRecord ok{0, "node017", "2025-03-01T10:00:00Z", "2025-03-01T10:12:03Z"};
  const ExitRecord kernel_failed{1, "node018", "2025-03-01T10:00:00Z", "2025-03-01T10:00:09Z"};
  const ExitRecord environment{3, "node019", "2025-03-01T10:00:00Z", "2025-03-01T10:00:01Z"};
  const AccountingEntry timeout{"TIMEOUT", "0:0", "02:00:00", "node020"};

  auto status = element_status(1, "1/4", &running, std::nullopt, &timeout);
  EXPECT_EQ(status.state, "RUNNING");
  EXPECT_EQ(status.source, "squeue");
  EXPECT_EQ(status.nodes, "node017");
  EXPECT_EQ(status.exit_code, "0:0");
  EXPECT_TRUE(status.queued());

  status = element_status(2, "2/4", &pending, std::nullopt, nullptr);
  EXPECT_EQ(status.nodes, "(Priority)");

  status = element_status(1, "1/4", nullptr, ok, &timeout);
  EXPECT_EQ(status.state, "COMPLETED");
  EXPECT_EQ(status.source, "exit file");
  EXPECT_EQ(status.elapsed, "12:03");
  EXPECT_EQ(status.exit_code, "0");
  EXPECT_FALSE(status.queued());

  status = element_status(1, "1/4", nullptr, kernel_failed, nullptr);
  EXPECT_EQ(status.state, "COMPLETED") << "a kernel that fails is a result";
  EXPECT_EQ(status.exit_code, "1");

  status = element_status(1, "1/4", nullptr, environment, nullptr);
  EXPECT_EQ(status.state, "FAILED");
  EXPECT_EQ(status.exit_code, "3");

  status = element_status(4, "4/4", nullptr, std::nullopt, &timeout);
  EXPECT_EQ(status.state, "TIMEOUT");
  EXPECT_EQ(status.source, "sacct");
  EXPECT_EQ(status.nodes, "node020");
  EXPECT_EQ(status.elapsed, "02:00:00");

  status = element_status(3, "3/4", nullptr, std::nullopt, nullptr);
  EXPECT_EQ(status.state, "UNKNOWN");
  EXPECT_EQ(status.source, "none");
  EXPECT_EQ(status.exit_code, "");
}

TEST(SlurmStatus, TableSummaryAndMerge) {
  std::vector<ElementStatus> elements{
      element_status(1, "1/3", nullptr, ExitRecord{0, "node017", "2025-03-01T10:00:00Z", "2025-03-01T10:00:42Z"},
                     nullptr),
      element_status(2, "2/3", nullptr, ExitRecord{1, "node018", "", ""}, nullptr),
      element_status(3, "3/3", nullptr, std::nullopt, nullptr)};
  elements[0].evaluations = 18;
  const std::string table = format_table("bench", elements);
  const std::vector<std::string> lines{
      "ELEMENT  STATE      NODE     ELAPSED  EXIT  EVALUATIONS", "1/3      COMPLETED  node017  0:42     0     18",
      "2/3      COMPLETED  node018  -        1     -", "3/3      UNKNOWN    -        -        -     -"};
  std::string expected;
  for (const auto& line : lines) expected += line + "\n";
  EXPECT_EQ(table, expected);
  EXPECT_EQ(summary_line(elements), "3 elements: 2 completed, 1 unknown");
  EXPECT_TRUE(all_ended(elements));
  EXPECT_NE(format_table("evolve", {element_status(2, "softmax", nullptr, std::nullopt, nullptr)}).find("\n2 softmax "),
            std::string::npos);
  const QueueEntry running{"RUNNING", "5:00", "node017", "None"};
  elements.push_back(element_status(4, "4/4", &running, std::nullopt, nullptr));
  EXPECT_FALSE(all_ended(elements));
  EXPECT_EQ(summary_line({elements[3]}), "1 element: 1 running");
  EXPECT_EQ(merge_command("/scratch/run"), "kforge db merge '/scratch/run/merged.db' '/scratch/run'/shard-*.db");
}

TEST(SlurmStatus, JsonCountsStatesAndOffersTheMergeOnceEnded) {
  const JobRecord record{"bench", "7001", "/r/kforge-bench.sbatch", "2025-03-01T09:59:00Z", {"kforge"}, {"1/2", "2/2"}};
  const QueueEntry running{"RUNNING", "5:00", "node017", "None"};
  std::vector<ElementStatus> elements{element_status(1, "1/2", nullptr, ExitRecord{0, "n", "", ""}, nullptr),
                                      element_status(2, "2/2", &running, std::nullopt, nullptr)};
  auto json = status_json(record, "/r", elements, "Slurm accounting storage is disabled");
  EXPECT_EQ(json["counts"]["completed"], 1);
  EXPECT_EQ(json["counts"]["running"], 1);
  EXPECT_EQ(json["ended"], false);
  EXPECT_TRUE(json["merge"].is_null());
  EXPECT_EQ(json["sacct"], "unavailable: Slurm accounting storage is disabled");
  EXPECT_EQ(json["elements"][1]["source"], "squeue");
  elements[1] = element_status(2, "2/2", nullptr, ExitRecord{0, "n", "", ""}, nullptr);
  json = status_json(record, "/r", elements, "");
  EXPECT_EQ(json["counts"]["completed"], 2);
  EXPECT_EQ(json["merge"], "kforge db merge '/r/merged.db' '/r'/shard-*.db");
  EXPECT_EQ(json["sacct"], "available");
}

TEST(SlurmRecord, RoundTripsAndNamesTheFileWhenBroken) {
  const JobRecord record{
      "evolve",           "7001", "/r/kforge-evolve.sbatch", "2025-03-01T09:59:00Z", {"kforge", "slurm", "evolve"},
      {"relu", "softmax"}};
  const auto json = to_json(record);
  EXPECT_EQ(json["shards"], 2);
  const JobRecord back = job_record_from_json(json, "/r/slurm.json");
  EXPECT_EQ(back.job_id, "7001");
  EXPECT_EQ(back.elements, record.elements);
  EXPECT_EQ(back.command, record.command);
  try {
    (void)job_record_from_json(nlohmann::json{{"kind", "bench"}}, "/r/slurm.json");
    ADD_FAILURE() << "accepted a record without a job id";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/r/slurm.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kforge::slurm
