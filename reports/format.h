// Escaping and number formatting shared by the report writers. Every formatter has a fixed unit so a column
// reads the same all the way down; unknown values print as an em dash.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kforge {

inline constexpr const char* k_unknown = "\u2014";  // em dash

// Text and attribute values for HTML: & < > " ' become entities.
std::string html_escape(std::string_view text);
// A Markdown table cell: | is escaped, < > & become entities, newlines become spaces.
std::string markdown_cell(std::string_view text);
// A CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, with quotes doubled.
std::string csv_field(std::string_view text);
// A file-name-safe slug: lower-case letters, digits and '-' only; never empty.
std::string slug(std::string_view text);

// "1.53x"; em dash when unset.
std::string format_speedup(std::optional<double> speedup);
// "45.2%" with `digits` decimals; em dash when unset.
std::string format_percent(std::optional<double> fraction, int digits = 1);
// "1.23 ms" (three significant digits, ns/us/ms/s); em dash when unset.
std::string format_duration_ns(std::optional<double> ns);
// "12.3 GFLOP/s" and friends: SI prefixes up to P, three significant digits; em dash when unset or not positive.
std::string format_si(std::optional<double> value, std::string_view unit);
// Memory and cache sizes with binary prefixes: "32 GiB", "1.5 MiB", "512 B"; em dash when unset or not positive.
std::string format_bytes(std::optional<double> bytes);
// "$1.23"; em dash when unset.
std::string format_usd(std::optional<double> dollars);
// A compact chart label, three significant digits: 0.25, 2.5, 1k, 10M, 1e-04 below a thousandth.
std::string format_number(double value);

}  // namespace kforge
