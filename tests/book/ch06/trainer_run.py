# Chapter 6's Trainer on a small set, with batch normalisation, dropout and a validation split.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from common.multi_layer_net_extend import MultiLayerNetExtend
from common.trainer import Trainer
from common.util import shuffle_dataset, smooth_curve

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
x_train, t_train = shuffle_dataset(x_train[:200], t_train[:200])
network = MultiLayerNetExtend(input_size=784, hidden_size_list=[30, 30], output_size=10,
                              use_batchnorm=True, use_dropout=True, dropout_ration=0.1)
trainer = Trainer(network, x_train, t_train, x_test[:100], t_test[:100],
                  epochs=3, mini_batch_size=50, optimizer='Adam',
                  optimizer_param={'lr': 0.01}, verbose=True)
trainer.train()
print(len(trainer.train_acc_list), len(trainer.test_acc_list), len(trainer.train_loss_list))
print(smooth_curve(trainer.train_loss_list).shape)
