"""Op families, one module each: elemwise, reduce, blas, shape, indexing, nnet."""
