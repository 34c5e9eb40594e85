// Every registered op passes the float64 gradient check on every one of its cases, frees its
// graph, and every ops/ source file registers at least one op.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "ops/registry.h"

using namespace sr;

TEST_CASE("every registered op passes gradcheck on all its cases") {
    CHECK(!op_registry().empty());
    for (const OpSpec& spec : op_registry()) {
        CHECK_MESSAGE(!spec.cases.empty(), spec.name, " has no gradient-check case");
        for (const OpCase& c : spec.cases) {
            const int64_t nodes_before = Node::live_count();
            const Tensors inputs = make_case_inputs(c, DType::F64, 42);
            const GradcheckResult r = gradcheck(c.run, inputs, c.no_grad_inputs);
            INFO(spec.name, " [", c.label, "]: ", r.worst);
            CHECK(r.passed);
            CHECK(r.checked > 0);
            CHECK(Node::live_count() == nodes_before);  // the graph was freed
        }
    }
}

TEST_CASE("every ops/ source file registers its ops") {
    std::set<std::string> registered;
    for (const OpSpec& spec : op_registry()) registered.insert(spec.file);
    // Files that hold machinery rather than ops.
    const std::set<std::string> machinery = {"registry.cpp", "gemm.cpp", "conv2d_cpu.cpp", "conv2d_winograd.cpp"};
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::string(SR_SOURCE_DIR) + "/ops")) {
        const std::string file = entry.path().filename().string();
        if (entry.path().extension() != ".cpp" || machinery.count(file)) continue;
        ++files;
        CHECK_MESSAGE(registered.count(file) == 1, "ops/", file, " registers no op spec (see ops/registry.h)");
    }
    CHECK(files > 0);
}
