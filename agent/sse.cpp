// Server-sent events as the WHATWG standard parses them, minus what LLM APIs never send (BOM, reconnection).
#include "agent/provider.h"

namespace kforge::agent {

std::vector<SseParser::Event> SseParser::feed(std::string_view chunk) {
  std::vector<Event> events;
  size_t start = 0;
  if (m_after_cr && !chunk.empty() && chunk.front() == '\n') start = 1;  // the rest of a "\r\n" split in two
  if (!chunk.empty()) m_after_cr = false;
  while (start < chunk.size()) {
    const size_t end = chunk.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      m_buffer.append(chunk.substr(start));
      break;
    }
    std::string_view line = chunk.substr(start, end - start);
    if (!m_buffer.empty()) {
      m_buffer.append(line);
      line = m_buffer;
    }
    process_line(line, events);
    m_buffer.clear();
    start = end + 1;
    if (chunk[end] == '\r') {
      if (start == chunk.size()) {
        m_after_cr = true;
      } else if (chunk[start] == '\n') {
        ++start;
      }
    }
  }
  return events;
}

void SseParser::process_line(std::string_view line, std::vector<Event>& events) {
  if (line.empty()) {
    if (m_has_data) events.push_back(std::move(m_current));
    m_current = Event{};
    m_has_data = false;
    return;
  }
  if (line.front() == ':') return;
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (m_has_data) m_current.data.push_back('\n');
    m_current.data.append(value);
    m_has_data = true;
  } else if (field == "event") {
    m_current.name = value;
  }
}

}  // namespace kforge::agent
