#include "agent/budget.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

namespace kforge::agent {

PriceTable PriceTable::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw_usage(file.string() + ": cannot open the price table");
  const nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
  if (root.is_discarded() || !root.is_object()) throw_usage(file.string() + ": $: expected a JSON object");
  PriceTable table;
  for (const auto& [model, entry] : root.items()) {
    if (model.rfind("_", 0) == 0) continue;  // "_comment" and the like
    const std::string where = file.string() + ": $." + model;
    if (!entry.is_object()) throw_usage(where + ": expected {\"input\": ..., \"output\": ...}");
    Price price;
    for (auto [key, into] :
         {std::pair{"input", &price.input}, std::pair{"output", &price.output}, std::pair{"cached", &price.cached}}) {
      if (!entry.contains(key)) {
        if (std::string(key) == "cached") continue;
        throw_usage(where + ": missing '" + key + "' (dollars per million tokens)");
      }
      if (!entry[key].is_number() || entry[key].get<double>() < 0)
        throw_usage(where + "." + key + ": expected a non-negative number");
      *into = entry[key].get<double>();
    }
    if (!entry.contains("cached")) price.cached = price.input;
    table.m_prices[model] = price;
  }
  return table;
}

std::optional<Price> PriceTable::find(const std::string& model) const {
  if (auto it = m_prices.find(model); it != m_prices.end()) return it->second;
  std::optional<Price> best;
  size_t best_length = 0;
  for (const auto& [key, price] : m_prices) {
    if (key.empty() || key.back() != '*') continue;
    const std::string prefix = key.substr(0, key.size() - 1);
    if (model.rfind(prefix, 0) == 0 && prefix.size() >= best_length) {
      best = price;
      best_length = prefix.size();
    }
  }
  return best;
}

double PriceTable::cost(const std::string& model, const Usage& usage) const {
  const auto price = find(model);
  if (!price) return 0.0;
  const int64_t fresh_input = std::max<int64_t>(0, usage.input_tokens - usage.cached_tokens);
  return (static_cast<double>(fresh_input) * price->input + static_cast<double>(usage.cached_tokens) * price->cached +
          static_cast<double>(usage.output_tokens) * price->output) /
         1e6;
}

std::optional<std::string> budget_exhausted(const BudgetLimits& limits, const Spent& spent) {
  char text[128];
  if (limits.max_calls > 0 && spent.calls >= limits.max_calls) {
    std::snprintf(text, sizeof text, "calls: %lld of %lld used", static_cast<long long>(spent.calls),
                  static_cast<long long>(limits.max_calls));
    return text;
  }
  if (limits.max_tokens > 0 && spent.tokens >= limits.max_tokens) {
    std::snprintf(text, sizeof text, "tokens: %lld of %lld used", static_cast<long long>(spent.tokens),
                  static_cast<long long>(limits.max_tokens));
    return text;
  }
  if (limits.max_dollars > 0 && spent.dollars >= limits.max_dollars) {
    std::snprintf(text, sizeof text, "dollars: $%.4f of $%.4f spent", spent.dollars, limits.max_dollars);
    return text;
  }
  if (limits.max_seconds > 0 && spent.seconds >= limits.max_seconds) {
    std::snprintf(text, sizeof text, "wall time: %.0f s of %.0f s used", spent.seconds, limits.max_seconds);
    return text;
  }
  return std::nullopt;
}

}  // namespace kforge::agent
