// A thin RAII layer over SQLite: a connection set up for several writers, statements, transactions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace kforge {

class Database {
 public:
  // Opens `file` (creating it unless `read_only`) in WAL mode with a busy timeout, foreign keys on.
  // Throws Error(environment) naming the file when it cannot, or when it may not write a file it is to write.
  // A reader of a file on read-only media reads it as immutable.
  Database(const std::filesystem::path& file, bool read_only = false);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  void exec(const std::string& sql);
  // Attaches another database file read-only as schema `alias` (ATTACH cannot run inside a transaction), and
  // detaches it. Throws Error(environment) naming the file.
  void attach_read_only(const std::filesystem::path& file, const std::string& alias);
  void detach(const std::string& alias);
  [[nodiscard]] sqlite3* handle() const { return m_db; }
  [[nodiscard]] const std::string& file() const { return m_file; }
  // Throws Error(environment) with SQLite's message, what we were doing and, where the user can fix the cause
  // (a full disk, a read-only file), what to do.
  [[noreturn]] void fail(const std::string& doing) const;

 private:
  void open(int flags, const std::string& name);
  void close();

  sqlite3* m_db = nullptr;
  std::string m_file;
};

// BEGIN IMMEDIATE on construction (so writers queue on the busy timeout rather than deadlock), ROLLBACK on
// destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& m_db;
  bool m_done = false;
};

// A prepared statement; binds are 1-based, columns 0-based, as in SQLite.
class Statement {
 public:
  Statement(const Database& db, const std::string& sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, std::optional<double> value);
  Statement& bind_null(int index);
  // Steps once: true while a row is available, false when done; throws on error.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();
  void reset();
  [[nodiscard]] int64_t column_int(int index) const;
  [[nodiscard]] double column_double(int index) const;
  [[nodiscard]] std::string column_text(int index) const;
  [[nodiscard]] bool column_is_null(int index) const;

 private:
  const Database& m_db;
  sqlite3_stmt* m_stmt = nullptr;
};

}  // namespace kforge
