#include "core/sqlite.h"

#include "core/error.h"

#include <chrono>
#include <cstdio>
#include <thread>

namespace kforge {

namespace {

// What a user can do about the failures that are theirs to fix; SQLite's own message says only what happened.
std::string advice(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return "; the disk holding it is full: free some space, or use another database file";
    case SQLITE_READONLY:
      return "; it is read-only: make the file, its directory and its file system writable, or use another "
             "database file";
    case SQLITE_CANTOPEN:
      return "; check that the file and its directory are readable and writable (SQLite keeps its write-ahead log "
             "beside the file)";
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "; check the file's permissions";
    default:
      return "";
  }
}

// A file: URI for `path` carrying `query`: the characters URIs reserve are escaped, and an absolute path keeps a
// leading "//" from being read as a host.
std::string file_uri(const std::filesystem::path& path, const std::string& query) {
  std::string uri = "file:";
  for (const char c : std::filesystem::absolute(path).lexically_normal().string()) {
    if (c == '?' || c == '#' || c == '%') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      uri += hex;
    } else {
      uri += c;
    }
  }
  return uri + "?" + query;
}

}  // namespace

Database::Database(const std::filesystem::path& file, bool read_only) : m_file(file.string()) {
  open(read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE), m_file);
  if (!read_only && sqlite3_db_readonly(m_db, "main") == 1) {
    // SQLite opens a file it may not write read-only without saying so; every later write would fail with a
    // message that hides why.
    close();
    throw_environment("cannot write the database " + m_file +
                      ": it is read-only (the file or its file system); make it writable, or use another database "
                      "file");
  }
  if (read_only &&
      sqlite3_exec(m_db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_CANTOPEN) {
    // A reader of a WAL database needs the shared-memory index beside it, which it cannot create on read-only
    // media. Nobody can be writing the file there (a writer would have created the index), so read it as
    // immutable.
    close();
    open(SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, file_uri(file, "immutable=1"));
  }
  try {
    sqlite3_busy_timeout(m_db, 30000);
    if (!read_only) {
      // Switching a new file to WAL takes a lock that the busy handler does not wait for; another process
      // creating the same store at once makes it fail with SQLITE_BUSY, so retry for as long as the timeout.
      for (int attempt = 0;; ++attempt) {
        const int rc = sqlite3_exec(m_db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) break;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 3000) fail("switching to WAL");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA synchronous=NORMAL");
  } catch (...) {
    close();  // no destructor runs for a constructor that throws
    throw;
  }
}

void Database::open(int flags, const std::string& name) {
  // SQLITE_OPEN_URI lets attach_read_only() name its file with "?mode=ro"; kforge's own names are plain paths.
  if (sqlite3_open_v2(name.c_str(), &m_db, flags | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
    const std::string why = m_db ? sqlite3_errmsg(m_db) + advice(sqlite3_errcode(m_db)) : "out of memory";
    close();
    throw_environment("cannot open the database " + m_file + ": " + why);
  }
}

void Database::close() {
  sqlite3_close_v2(m_db);
  m_db = nullptr;
}

Database::~Database() { close(); }

void Database::fail(const std::string& doing) const {
  throw_environment("database " + m_file + ": " + doing + ": " + sqlite3_errmsg(m_db) + advice(sqlite3_errcode(m_db)));
}

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  if (const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message); rc != SQLITE_OK) {
    const std::string why = message ? message : sqlite3_errmsg(m_db);
    sqlite3_free(message);
    throw_environment("database " + m_file + ": " + why + " (while running: " + sql.substr(0, 80) + ")" + advice(rc));
  }
}

void Database::attach_read_only(const std::filesystem::path& file, const std::string& alias) {
  if (!std::filesystem::is_regular_file(file))
    throw_environment("cannot open the database " + file.string() + ": no such file");
  const std::string sql = "ATTACH DATABASE ? AS " + alias;
  const std::string uri = file_uri(file, "mode=ro");
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(m_db, sql.c_str(), -1, &statement, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(statement, 1, uri.c_str(), -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(statement);
  }
  // The message is read before finalize, which may replace it.
  const std::string why = sqlite3_errmsg(m_db);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) throw_environment("cannot open the database " + file.string() + ": " + why + advice(rc));
}

void Database::detach(const std::string& alias) { exec("DETACH DATABASE " + alias); }

Transaction::Transaction(Database& db) : m_db(db) { m_db.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!m_done) sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  m_db.exec("COMMIT");
  m_done = true;
}

Statement::Statement(const Database& db, const std::string& sql) : m_db(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &m_stmt, nullptr) != SQLITE_OK)
    db.fail("preparing '" + sql.substr(0, 60) + "'");
}

Statement::~Statement() { sqlite3_finalize(m_stmt); }

Statement& Statement::bind(int index, int64_t value) {
  sqlite3_bind_int64(m_stmt, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(m_stmt, index, value);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  sqlite3_bind_text(m_stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::optional<double> value) {
  return value ? bind(index, *value) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(m_stmt, index);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  m_db.fail("executing a statement");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(m_stmt, index); }
double Statement::column_double(int index) const { return sqlite3_column_double(m_stmt, index); }
bool Statement::column_is_null(int index) const { return sqlite3_column_type(m_stmt, index) == SQLITE_NULL; }

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, index));
  return text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(m_stmt, index))) : std::string();
}

}  // namespace kforge
