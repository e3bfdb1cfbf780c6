// Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on fd 3,
// replies and events on fd 4, NUL-separated JSON). No websocket, no network: the test sees exactly what one
// page requested and logged, which Chromium's own background traffic cannot blur.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kforge::testing {

// $KFORGE_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH.
inline std::optional<std::filesystem::path> find_chromium() {
  if (const char* forced = std::getenv("KFORGE_CHROMIUM"); forced != nullptr && *forced != '\0') {
    if (access(forced, X_OK) == 0) return std::filesystem::path(forced);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const auto candidate = std::filesystem::path(dirs.substr(start, end - start)) / name;
      if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return std::nullopt;
}

// Why find_chromium() found nothing, for the skip message.
inline std::string chromium_missing_reason() {
  if (const char* forced = std::getenv("KFORGE_CHROMIUM"); forced != nullptr && *forced != '\0')
    return std::string("KFORGE_CHROMIUM=") + forced + " is not an executable file";
  return "chromium not found on PATH (Debian: apt-get install chromium; or set KFORGE_CHROMIUM)";
}

inline std::vector<unsigned char> base64_decode(const std::string& text) {
  static const std::string k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const auto at = k_alphabet.find(c);
    if (at == std::string::npos) continue;  // padding, newlines
    buffer = (buffer << 6) | static_cast<uint32_t>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

// What one page load did: every request (the page's own file:// load included), console call, log entry and
// uncaught exception.
struct PageLog {
  std::vector<std::string> requests;
  std::vector<std::string> console;
  std::vector<std::string> log_entries;
  std::vector<std::string> exceptions;

  // Requests for anything but the page's own file: with no network that is every external request.
  [[nodiscard]] std::vector<std::string> requests_other_than(const std::string& url) const {
    std::vector<std::string> out;
    for (const auto& r : requests)
      if (r != url) out.push_back(r);
    return out;
  }
};

class HeadlessChromium {
 public:
  HeadlessChromium(const std::filesystem::path& binary, const std::filesystem::path& profile_dir) {
    std::filesystem::remove_all(profile_dir);
    std::filesystem::create_directories(profile_dir);
    int to_browser[2];
    int from_browser[2];
    if (pipe2(to_browser, O_CLOEXEC) != 0 || pipe2(from_browser, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    const std::string log = (profile_dir / "chromium.log").string();
    const std::string user_data = "--user-data-dir=" + profile_dir.string();
    // Root needs --no-sandbox; the rest keeps a container quiet and Chromium's own services off.
    std::vector<std::string> args{binary.string(),
                                  "--headless=new",
                                  "--no-sandbox",
                                  "--disable-gpu",
                                  "--disable-dev-shm-usage",
                                  "--no-first-run",
                                  "--no-default-browser-check",
                                  "--disable-extensions",
                                  "--disable-background-networking",
                                  "--disable-component-update",
                                  "--hide-scrollbars",
                                  "--remote-debugging-pipe",
                                  user_data,
                                  "about:blank"};
    m_pid = fork();
    if (m_pid < 0) throw std::runtime_error("fork failed");
    if (m_pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      setpgid(0, 0);
      // Move both ends out of the way first: either may already be fd 3 or 4 (and dup2 onto itself would
      // keep close-on-exec).
      const int in = fcntl(to_browser[0], F_DUPFD, 10);
      const int out_pipe = fcntl(from_browser[1], F_DUPFD, 10);
      dup2(in, 3);
      dup2(out_pipe, 4);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(to_browser[0]);
    close(from_browser[1]);
    m_write = to_browser[1];
    m_read = from_browser[0];
    const auto target = call("Target.createTarget", {{"url", "about:blank"}});
    const auto attached = call("Target.attachToTarget", {{"targetId", target["targetId"]}, {"flatten", true}});
    m_session = attached["sessionId"].get<std::string>();
    for (const char* domain : {"Network.enable", "Runtime.enable", "Log.enable", "Page.enable"})
      call(domain, nlohmann::json::object(), true);
  }

  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  ~HeadlessChromium() {
    try {
      send("Browser.close", nlohmann::json::object(), false);
    } catch (...) {
    }
    if (m_write >= 0) close(m_write);
    if (m_read >= 0) close(m_read);
    // Give it a moment to exit cleanly, then end its whole process group.
    for (int i = 0; i < 50; ++i) {
      if (waitpid(m_pid, nullptr, WNOHANG) == m_pid) return;
      usleep(20000);
    }
    kill(-m_pid, SIGKILL);
    waitpid(m_pid, nullptr, 0);
  }

  // Loads `url` in the page and waits for its load event; returns what the page did.
  PageLog open(const std::string& url) {
    m_events.clear();
    call("Page.navigate", {{"url", url}}, true);
    wait_for([](const nlohmann::json& m) { return m.value("method", "") == "Page.loadEventFired"; });
    // Late console calls or requests would arrive right after load: a short drain catches them.
    drain(std::chrono::milliseconds(300));
    PageLog log;
    for (const auto& m : m_events) {
      const std::string method = m.value("method", "");
      const auto& p = m.contains("params") ? m["params"] : nlohmann::json::object();
      if (method == "Network.requestWillBeSent") log.requests.push_back(p["request"]["url"].get<std::string>());
      if (method == "Runtime.consoleAPICalled") log.console.push_back(p.dump());
      if (method == "Log.entryAdded") log.log_entries.push_back(p.dump());
      if (method == "Runtime.exceptionThrown") log.exceptions.push_back(p.dump());
    }
    return log;
  }

  // Evaluates a JavaScript expression in the page (DevTools only: the pages themselves have no scripts).
  nlohmann::json evaluate(const std::string& expression) {
    const auto result = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, true);
    if (result.contains("exceptionDetails")) throw std::runtime_error("evaluate failed: " + expression);
    return result["result"].value("value", nlohmann::json());
  }

  void set_viewport(int width, int height, bool mobile) {
    call("Emulation.setDeviceMetricsOverride",
         {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", mobile}}, true);
  }

  void emulate_media(const std::string& media) { call("Emulation.setEmulatedMedia", {{"media", media}}, true); }

  // A PNG of the whole page, written to `file`.
  void screenshot(const std::filesystem::path& file) {
    const auto metrics = call("Page.getLayoutMetrics", nlohmann::json::object(), true);
    const auto& size = metrics["cssContentSize"];
    const nlohmann::json clip{{"x", 0},
                              {"y", 0},
                              {"width", size["width"].get<double>()},
                              {"height", std::min(size["height"].get<double>(), 16000.0)},
                              {"scale", 1}};
    const auto shot =
        call("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", true}, {"clip", clip}}, true);
    const auto png = base64_decode(shot["data"].get<std::string>());
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  }

 private:
  int send(const std::string& method, const nlohmann::json& params, bool in_session) {
    nlohmann::json message{{"id", ++m_next_id}, {"method", method}, {"params", params}};
    if (in_session) message["sessionId"] = m_session;
    const std::string text = message.dump() + std::string(1, '\0');
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(m_write, text.data() + done, text.size() - done);
      if (n <= 0) throw std::runtime_error("chromium closed its pipe");
      done += static_cast<size_t>(n);
    }
    return m_next_id;
  }

  nlohmann::json call(const std::string& method, const nlohmann::json& params, bool in_session = false) {
    const int id = send(method, params, in_session);
    const auto reply = wait_for([id](const nlohmann::json& m) { return m.value("id", -1) == id; });
    if (reply.contains("error")) throw std::runtime_error(method + " failed: " + reply["error"].dump());
    return reply["result"];
  }

  // Reads messages until one satisfies `done` (returned) or 20 s pass (throws). Events are kept.
  template <typename Pred>
  nlohmann::json wait_for(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      for (size_t at; (at = m_buffer.find('\0')) != std::string::npos;) {
        auto message = nlohmann::json::parse(m_buffer.substr(0, at));
        m_buffer.erase(0, at + 1);
        if (message.contains("method")) m_events.push_back(message);
        if (done(message)) return message;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("chromium did not answer in 20 s");
      if (!read_some(static_cast<int>(left.count()))) throw std::runtime_error("chromium closed its pipe");
    }
  }

  void drain(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) break;
    }
    for (size_t at; (at = m_buffer.find('\0')) != std::string::npos;) {
      auto message = nlohmann::json::parse(m_buffer.substr(0, at));
      m_buffer.erase(0, at + 1);
      if (message.contains("method")) m_events.push_back(message);
    }
  }

  // Appends what is readable within `timeout_ms` to the buffer; false on EOF, true otherwise (even on timeout).
  bool read_some(int timeout_ms) {
    pollfd fd{m_read, POLLIN, 0};
    const int ready = poll(&fd, 1, timeout_ms);
    if (ready <= 0) return ready == 0;
    char chunk[65536];
    const ssize_t n = read(m_read, chunk, sizeof chunk);
    if (n <= 0) return false;
    m_buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t m_pid = -1;
  int m_write = -1;
  int m_read = -1;
  int m_next_id = 0;
  std::string m_session;
  std::string m_buffer;
  std::vector<nlohmann::json> m_events;
};

}  // namespace kforge::testing
