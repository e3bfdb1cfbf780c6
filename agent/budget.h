// Budgets and cost (docs/agent.md): caps on calls, tokens, dollars and wall time, checked before each LLM
// call; a price table the user can edit (agent/prices.json) turns each call's usage into dollars.
#pragma once

#include "agent/provider.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace kforge::agent {

struct Price {
  double input = 0.0;   // dollars per million input tokens
  double output = 0.0;  // dollars per million output tokens
  double cached = 0.0;  // dollars per million cached input tokens
};

class PriceTable {
 public:
  // Reads {"provider:model": {"input": 2.5, "output": 10, "cached": 1.25}, ...}; keys may end in '*' to
  // cover a family ("openai:gpt-4o*"). Throws Error(usage) naming the file and key for a malformed entry.
  static PriceTable load(const std::filesystem::path& file);
  // The price of `model` (longest matching key), or nullopt for an unpriced model (cost 0, reported as unknown).
  [[nodiscard]] std::optional<Price> find(const std::string& model) const;
  [[nodiscard]] double cost(const std::string& model, const Usage& usage) const;

 private:
  std::map<std::string, Price> m_prices;
};

struct BudgetLimits {
  int64_t max_calls = 0;  // 0: no cap
  int64_t max_tokens = 0;
  double max_dollars = 0.0;
  double max_seconds = 0.0;
};

struct Spent {
  int64_t calls = 0;
  int64_t tokens = 0;  // input + output
  double dollars = 0.0;
  double seconds = 0.0;
};

// Why the next call must not be made, or nullopt when it may ("calls: 20 of 20 used").
std::optional<std::string> budget_exhausted(const BudgetLimits& limits, const Spent& spent);

}  // namespace kforge::agent
