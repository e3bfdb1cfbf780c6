// calls_library from what a Python kernel dispatched: the dispatcher's operator names matched against the
// operators that are a kernel's whole work, whatever name or form the kernel reached them by.
#include "verifier/cascade.h"

#include <gtest/gtest.h>

namespace kforge {
namespace {

DispatchRecord dispatched(std::vector<std::string> ops) {
  DispatchRecord record;
  record.recorded = true;
  record.ops = std::move(ops);
  return record;
}

const std::vector<std::string> k_work{
    "matmul", "mm", "bmm", "softmax", "layer_norm", "batch_norm", "max_pool2d", "convolution", "scaled_dot_product",
    "relu"};

TEST(LibraryOps, TheDispatchersNamesOfTheWorkAreFound) {
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten.mm", "aten.add"}), k_work), std::vector<std::string>{"aten.mm"});
  // Implementations' prefixes and forms: softmax, the norms, pooling with indices, fused attention.
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten._softmax"}), k_work), std::vector<std::string>{"aten._softmax"});
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten.native_layer_norm"}), k_work).size(), 1u);
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten._native_batch_norm_legit_no_training"}), k_work).size(), 1u);
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten.max_pool2d_with_indices"}), k_work).size(), 1u);
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten._scaled_dot_product_flash_attention_for_cpu"}), k_work).size(),
            1u);
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten.convolution"}), k_work).size(), 1u);
}

TEST(LibraryOps, BuildingBlocksAndLookalikesAreNot) {
  // Elementwise operators and reductions, and names that only begin like the work (addmm is not add, mm is not
  // mm_something the task never named).
  EXPECT_TRUE(dispatched_library_ops(dispatched({"aten.exp", "aten.amax", "aten.sum", "aten.div", "aten.sub",
                                                 "aten.clamp_min", "aten.empty", "aten.copy_"}),
                                     k_work)
                  .empty());
  EXPECT_TRUE(dispatched_library_ops(dispatched({"aten.relu6"}), {"relu"}).empty()) << "relu6 is not a form of relu";
  EXPECT_TRUE(dispatched_library_ops(dispatched({"aten.addmm"}), {"add"}).empty());
  EXPECT_EQ(dispatched_library_ops(dispatched({"aten.relu", "aten.relu"}), k_work),
            std::vector<std::string>{"aten.relu"})
      << "each once";
}

TEST(LibraryOps, RecordsMergeAcrossStages) {
  DispatchRecord check = dispatched({"aten.exp"});
  check.triton_launches = 2;
  DispatchRecord bench = dispatched({"aten.exp", "aten.mm"});
  bench.triton_launches = 1;
  check.merge(bench);
  EXPECT_EQ(check.ops, (std::vector<std::string>{"aten.exp", "aten.mm"}));
  EXPECT_EQ(check.triton_launches, 3);
  EXPECT_TRUE(check.recorded);
}

}  // namespace
}  // namespace kforge
