package slipstream;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;

/**
 * Drives a Slipstream node through the Arrow Flight SQL JDBC driver and prints
 * what it sees, one fact per line, for a test to compare with DuckDB's answers.
 *
 * <p>Usage: {@code JdbcCheck <jdbc url> <table> <min id> <name>}; the table has
 * columns id (bigint), name (varchar), amount (decimal), day (date) and at
 * (timestamp). {@code JdbcCheck ttfr <jdbc url> <query> <runs>} times, on one
 * connection, how long each run of the query takes to its first row and
 * prints the median in milliseconds (bench/bench_flightsql.py).
 */
public final class JdbcCheck {
  private JdbcCheck() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("ttfr")) {
      firstRow(args[1], args[2], Integer.parseInt(args[3]));
      return;
    }
    String url = args[0];
    String table = args[1];
    long minId = Long.parseLong(args[2]);
    String name = args[3];
    try (Connection con = DriverManager.getConnection(url)) {
      DatabaseMetaData md = con.getMetaData();
      System.out.println("product " + md.getDatabaseProductName());
      try (ResultSet rs = md.getTables(null, null, table, null)) {
        while (rs.next()) {
          System.out.println("table " + rs.getString("TABLE_NAME") + " " + rs.getString("TABLE_TYPE"));
        }
      }
      try (ResultSet rs = md.getColumns(null, null, table, null)) {
        while (rs.next()) {
          System.out.println("column " + rs.getString("COLUMN_NAME") + " " + rs.getInt("DATA_TYPE"));
        }
      }
      String sql = "SELECT id, name, amount, day, at FROM " + table
          + " WHERE id >= ? AND name = ? ORDER BY id";
      try (PreparedStatement ps = con.prepareStatement(sql)) {
        ResultSetMetaData pmd = ps.getMetaData();
        System.out.println("prepared columns " + pmd.getColumnCount());
        System.out.println("parameters " + ps.getParameterMetaData().getParameterCount());
        ps.setLong(1, minId);
        ps.setString(2, name);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            BigDecimal amount = rs.getBigDecimal("amount");
            System.out.println("row " + rs.getLong("id") + "|" + rs.getString("name") + "|"
                + (amount == null ? "null" : amount.toPlainString()) + "|" + rs.getDate("day") + "|"
                + rs.getTimestamp("at"));
          }
        }
      }
      try (Statement st = con.createStatement();
          ResultSet rs = st.executeQuery(
              "SELECT count(*) AS n, sum(amount) AS total FROM " + table)) {
        while (rs.next()) {
          System.out.println("total " + rs.getLong("n") + "|" + rs.getBigDecimal("total").toPlainString());
        }
      }
      try (Statement st = con.createStatement()) {
        System.out.println("update " + st.executeUpdate("DROP TABLE IF EXISTS jdbc_never_made"));
      }
    }
  }

  private static void firstRow(String url, String sql, int runs) throws Exception {
    double[] ms = new double[runs];
    try (Connection con = DriverManager.getConnection(url)) {
      for (int i = 0; i < runs; i++) {
        long start = System.nanoTime();
        try (Statement st = con.createStatement(); ResultSet rs = st.executeQuery(sql)) {
          if (!rs.next()) {
            throw new IllegalStateException("the query returned no row: " + sql);
          }
          ms[i] = (System.nanoTime() - start) / 1e6;
        }
      }
    }
    java.util.Arrays.sort(ms);
    System.out.println("ttfr_ms " + ms[runs / 2]);
  }
}
