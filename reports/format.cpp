#include "reports/format.h"

#include <cmath>
#include <cstdio>

namespace kforge {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\r':
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string slug(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (keep)
      out += c;
    else if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "x" : out;
}

std::string format_speedup(std::optional<double> speedup) {
  if (!speedup) return k_unknown;
  char text[32];
  std::snprintf(text, sizeof text, *speedup >= 100 ? "%.0fx" : "%.2fx", *speedup);
  return text;
}

std::string format_percent(std::optional<double> fraction, int digits) {
  if (!fraction) return k_unknown;
  char text[32];
  std::snprintf(text, sizeof text, "%.*f%%", digits, 100 * *fraction);
  return text;
}

std::string format_duration_ns(std::optional<double> ns) {
  if (!ns || !(*ns > 0)) return k_unknown;
  char text[32];
  if (*ns >= 1e9)
    std::snprintf(text, sizeof text, "%.3g s", *ns / 1e9);
  else if (*ns >= 1e6)
    std::snprintf(text, sizeof text, "%.3g ms", *ns / 1e6);
  else if (*ns >= 1e3)
    std::snprintf(text, sizeof text, "%.3g us", *ns / 1e3);
  else
    std::snprintf(text, sizeof text, "%.3g ns", *ns);
  return text;
}

std::string format_si(std::optional<double> value, std::string_view unit) {
  if (!value || !(*value > 0) || !std::isfinite(*value)) return k_unknown;
  static constexpr const char* k_prefixes[] = {"", "k", "M", "G", "T", "P"};
  double v = *value;
  size_t prefix = 0;
  while (v >= 999.5 && prefix + 1 < std::size(k_prefixes)) {
    v /= 1000;
    ++prefix;
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.3g %s%.*s", v, k_prefixes[prefix], static_cast<int>(unit.size()), unit.data());
  return text;
}

std::string format_bytes(std::optional<double> bytes) {
  if (!bytes || !(*bytes > 0) || !std::isfinite(*bytes)) return k_unknown;
  static constexpr const char* k_prefixes[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = *bytes;
  size_t prefix = 0;
  while (v >= 1023.5 && prefix + 1 < std::size(k_prefixes)) {
    v /= 1024;
    ++prefix;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.3g %s", v, k_prefixes[prefix]);
  return text;
}

std::string format_usd(std::optional<double> dollars) {
  if (!dollars) return k_unknown;
  char text[32];
  std::snprintf(text, sizeof text, "$%.2f", *dollars);
  return text;
}

std::string format_number(double value) {
  char text[32];
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e15 || (magnitude > 0 && magnitude < 1e-3)) {
    std::snprintf(text, sizeof text, "%.0e", value);
    return text;
  }
  static constexpr const char* k_prefixes[] = {"", "k", "M", "G", "T"};
  size_t prefix = 0;
  double v = value;
  while (std::fabs(v) >= 1000 && prefix + 1 < std::size(k_prefixes)) {
    v /= 1000;
    ++prefix;
  }
  std::snprintf(text, sizeof text, "%.3g%s", v, k_prefixes[prefix]);
  return text;
}

}  // namespace kforge
